//! `#[greenshim::main]` and `#[greenshim::test]`, re-exported by `greenshim`.
//!
//! The attribute keeps the function's signature and replaces its body with a call that
//! configures the runtime, applies the monkey patch (unless `patch = false`), runs the original
//! body on a green thread and returns what it returned, or re-raises its panic on the calling
//! thread. Written without `syn`/`quote`: a function item is simple enough to take apart by its
//! tokens, and the original tokens (with their spans) are spliced back unchanged, so errors in
//! the body point at the user's code.

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs `fn main` on a green thread after configuring greenshim. Arguments, all optional:
/// `patch = false` (default `true`: `monkey::patch_all()` first), `workers = N`,
/// `stack_size = BYTES`. `main` may return anything a plain `main` may (`()`, `Result<…>`): the
/// value is returned, a panic is re-raised with its payload, so exit status and messages are a
/// plain `main`'s.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, false).unwrap_or_else(|e| e)
}

/// `#[test]` whose body runs on a green thread, with the same arguments as
/// [`macro@main`]; `#[should_panic]` and `-> Result<…>` tests work as with `#[test]`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, true).unwrap_or_else(|e| e)
}

/// The runtime settings asked for in the attribute.
struct Settings {
    patch: bool,
    workers: Option<TokenTree>,
    stack_size: Option<TokenTree>,
}

fn expand(args: TokenStream, item: TokenStream, test: bool) -> Result<TokenStream, TokenStream> {
    let settings = parse_args(args)?;
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let fn_at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"))
        .ok_or_else(|| error(Span::call_site(), "expected a function"))?;
    for t in &tokens[..fn_at] {
        if let TokenTree::Ident(i) = t
            && ["async", "const", "unsafe", "extern"].contains(&i.to_string().as_str())
        {
            return Err(error(
                i.span(),
                &format!("a greenshim entry point cannot be `{i}`: write a plain `fn`"),
            ));
        }
    }
    let name = match tokens.get(fn_at + 1) {
        Some(TokenTree::Ident(i)) => i.clone(),
        _ => return Err(error(Span::call_site(), "expected the function's name")),
    };
    let mut at = fn_at + 2;
    if let Some(TokenTree::Punct(p)) = tokens.get(at)
        && p.as_char() == '<'
    {
        return Err(error(p.span(), "a greenshim entry point cannot be generic"));
    }
    match tokens.get(at) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            if !g.stream().is_empty() {
                return Err(error(
                    g.span(),
                    "a greenshim entry point takes no arguments",
                ));
            }
        }
        _ => {
            return Err(error(
                name.span(),
                "expected `()` after the function's name",
            ));
        }
    }
    at += 1;
    let body_at = tokens.len() - 1;
    let body = match tokens.get(body_at) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g.clone(),
        _ => return Err(error(name.span(), "expected the function's body")),
    };
    let signature_tail = &tokens[at..body_at];
    if let Some(TokenTree::Ident(w)) = signature_tail
        .iter()
        .find(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "where"))
    {
        return Err(error(
            w.span(),
            "a greenshim entry point cannot have a where clause",
        ));
    }
    if test
        && tokens[..fn_at]
            .iter()
            .any(|t| matches!(t, TokenTree::Group(g) if g.stream().to_string().starts_with("test")))
    {
        return Err(error(
            name.span(),
            "`#[greenshim::test]` already adds `#[test]`",
        ));
    }

    // The output: [#[test]] <attributes and visibility> fn name() <ret> {
    //     fn __greenshim_body() <ret> <body>
    //     ::greenshim::__entry(<settings>, __greenshim_body)
    // }
    let mut out = TokenStream::new();
    if test {
        out.extend(parse("#[test]"));
    }
    out.extend(tokens[..fn_at + 2].iter().cloned());
    out.extend([TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        TokenStream::new(),
    ))]);
    out.extend(signature_tail.iter().cloned());

    let mut inner = parse("#[allow(clippy::unnecessary_wraps)] fn __greenshim_body()");
    inner.extend(signature_tail.iter().cloned());
    inner.extend([TokenTree::Group(body)]);
    inner.extend(parse("::greenshim::__entry"));
    let mut call = TokenStream::new();
    call.extend(parse("::greenshim::__EntrySettings"));
    let mut fields = parse(if settings.patch {
        "patch: true, workers: "
    } else {
        "patch: false, workers: "
    });
    fields.extend(option(settings.workers));
    fields.extend(parse(", stack_size: "));
    fields.extend(option(settings.stack_size));
    call.extend([TokenTree::Group(Group::new(Delimiter::Brace, fields))]);
    call.extend([
        TokenTree::Punct(Punct::new(',', Spacing::Alone)),
        TokenTree::Ident(Ident::new("__greenshim_body", Span::call_site())),
    ]);
    inner.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, call))]);
    out.extend([TokenTree::Group(Group::new(Delimiter::Brace, inner))]);
    Ok(out)
}

/// `Some(value)` or `None` as tokens.
fn option(value: Option<TokenTree>) -> TokenStream {
    match value {
        None => parse("::core::option::Option::None"),
        Some(v) => {
            let mut t = parse("::core::option::Option::Some");
            t.extend([TokenTree::Group(Group::new(
                Delimiter::Parenthesis,
                TokenStream::from(v),
            ))]);
            t
        }
    }
}

/// `name = value, …` with the names `patch`, `workers`, `stack_size`.
fn parse_args(args: TokenStream) -> Result<Settings, TokenStream> {
    let mut settings = Settings {
        patch: true,
        workers: None,
        stack_size: None,
    };
    let tokens: Vec<TokenTree> = args.into_iter().collect();
    for part in tokens.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
        match part {
            [] => {}
            [TokenTree::Ident(key), TokenTree::Punct(eq), value] if eq.as_char() == '=' => {
                match (key.to_string().as_str(), value) {
                    ("patch", TokenTree::Ident(b)) if b.to_string() == "true" => {
                        settings.patch = true;
                    }
                    ("patch", TokenTree::Ident(b)) if b.to_string() == "false" => {
                        settings.patch = false;
                    }
                    ("workers", TokenTree::Literal(_)) => settings.workers = Some(value.clone()),
                    ("stack_size", TokenTree::Literal(_)) => {
                        settings.stack_size = Some(value.clone());
                    }
                    _ => {
                        return Err(error(
                            key.span(),
                            "expected `patch = true|false`, `workers = N` or `stack_size = BYTES`",
                        ));
                    }
                }
            }
            [first, ..] => {
                return Err(error(
                    first.span(),
                    "expected `patch = true|false`, `workers = N` or `stack_size = BYTES`",
                ));
            }
        }
    }
    Ok(settings)
}

fn parse(code: &str) -> TokenStream {
    code.parse().expect("the macro's own code parses")
}

/// `compile_error!("message")` at `span`.
fn error(span: Span, message: &str) -> TokenStream {
    let mut lit = Literal::string(message);
    lit.set_span(span);
    let mut out = TokenStream::new();
    for mut t in parse("::core::compile_error!") {
        t.set_span(span);
        out.extend([t]);
    }
    let mut group = Group::new(
        Delimiter::Parenthesis,
        TokenStream::from(TokenTree::Literal(lit)),
    );
    group.set_span(span);
    out.extend([
        TokenTree::Group(group),
        TokenTree::Punct(Punct::new(';', Spacing::Alone)),
    ]);
    out
}
