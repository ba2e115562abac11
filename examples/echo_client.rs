//! Echo clients: N green threads, each sending M messages and checking the echoes.
//!
//! ```text
//! cargo run --release --example echo_client -- 127.0.0.1:7000 [connections] [messages]
//! ```

use std::io::{Read, Write};
use std::time::Instant;

use greenshim::net::TcpStream;

fn client(addr: &str, id: usize, messages: usize) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut back = [0u8; 64];
    for m in 0..messages {
        let msg = [(id + m) as u8; 64];
        s.write_all(&msg)?;
        s.read_exact(&mut back)?;
        if back != msg {
            return Err(std::io::Error::other("echo differs from what was sent"));
        }
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:7000".to_owned());
    let connections: usize = args.next().map_or(100, |a| a.parse().expect("connections"));
    let messages: usize = args.next().map_or(100, |a| a.parse().expect("messages"));
    let t = Instant::now();
    let clients: Vec<_> = (0..connections)
        .map(|id| {
            let addr = addr.clone();
            greenshim::spawn(move || client(&addr, id, messages))
        })
        .collect();
    let failed = greenshim::joinall(clients)
        .into_iter()
        .filter(|r| !matches!(r, Ok(Ok(()))))
        .count();
    let secs = t.elapsed().as_secs_f64();
    let total = (connections - failed) * messages;
    println!(
        "{connections} connections x {messages} messages: {total} echoes in {secs:.2} s \
         ({:.0}/s), {failed} connections failed",
        total as f64 / secs
    );
}
