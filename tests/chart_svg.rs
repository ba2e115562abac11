//! The compare bench's SVG chart (`benches/common/chart.rs`) is well-formed XML with one bar
//! per measured value, greenshim's bars highlighted and the ratios against the baseline on
//! them. Checked with a small XML reader: tags nest and close, attributes are quoted.

#[allow(dead_code)]
#[path = "../benches/common/chart.rs"]
mod chart;

/// Element names in document order, after checking that the document is well formed.
fn parse(xml: &str) -> Result<Vec<String>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if text.contains('>') || (text.contains('&') && !text.contains(';')) {
            return Err(format!("bad text {text:?}"));
        }
        let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack.pop().ok_or("close without open")?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body
            .split_whitespace()
            .next()
            .ok_or("empty tag")?
            .to_owned();
        // Attributes: name="value" pairs, every quote paired.
        let attrs = &body[name.len()..];
        if !attrs.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        for pair in attrs.split('"').step_by(2) {
            let pair = pair.trim();
            if !pair.is_empty() && !pair.ends_with('=') {
                return Err(format!("attribute without a quoted value in <{tag}>"));
            }
        }
        names.push(name.clone());
        if !self_closing {
            stack.push(name);
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed {stack:?}"));
    }
    Ok(names)
}

#[test]
fn the_chart_is_well_formed_with_a_bar_per_value_and_ratios() {
    let impls: Vec<String> = ["greenshim", "patched", "tokio-ct"]
        .map(String::from)
        .to_vec();
    let rows = [
        chart::ChartRow {
            label: "W4 echo, C=50",
            unit: "req/s",
            higher_is_better: true,
            values: vec![Some(120_000.0), Some(100_000.0), Some(60_000.0)],
        },
        chart::ChartRow {
            label: "W1 spawn-join <n=100000> & co",
            unit: "ns/task",
            higher_is_better: false,
            values: vec![Some(1000.0), None, Some(2000.0)],
        },
    ];
    let svg = chart::svg("title", &impls, Some(2), &rows);
    let names = parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(names.first().map(String::as_str), Some("svg"));
    // One background rect plus one bar per measured value (5 of 6).
    assert_eq!(names.iter().filter(|n| *n == "rect").count(), 1 + 5);
    assert!(svg.contains("120000 (×2.00)"), "{svg}");
    assert!(
        svg.contains("1000 (×2.00)"),
        "a lower-is-better ratio: {svg}"
    );
    assert!(svg.contains("not measured"));
    assert!(
        svg.contains("&lt;n=100000&gt; &amp; co"),
        "escaped label: {svg}"
    );
    assert!(svg.contains("#2a7a3b"), "greenshim highlighted");
}

/// The chart the README shows, as the compare bench wrote it
/// (`scripts/bench --raise-map-count --svg docs/compare.svg`), parses, with a bar for every
/// implementation of the first workload.
#[test]
fn the_committed_chart_from_the_bench_is_well_formed() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/compare.svg");
    let svg = std::fs::read_to_string(path).expect("docs/compare.svg, written by the bench");
    let names = parse(&svg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names.first().map(String::as_str), Some("svg"));
    assert!(names.iter().filter(|n| *n == "rect").count() > 6, "no bars");
    for imp in ["greenshim", "patched", "tokio-ct", "tokio-mt", "may", "std"] {
        assert!(svg.contains(&format!(">{imp}<")), "no bar for {imp}");
    }
    assert!(svg.contains("W4 echo, C=50"));
}
