//! A TCP echo server: one green thread per connection, written as plain blocking code.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:7000
//! cargo run --release --example echo_client -- 127.0.0.1:7000 1000 100
//! ```

use std::io::{Read, Write};

use greenshim::net::{TcpListener, TcpStream};

fn handle(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_owned());
    // The acceptor is a green thread too, so that `accept` parks instead of blocking a worker.
    greenshim::spawn(move || -> std::io::Result<()> {
        let listener = TcpListener::bind(&addr)?;
        println!("echo server listening on {}", listener.local_addr()?);
        for stream in listener.incoming() {
            match stream {
                Ok(s) => {
                    greenshim::spawn(move || {
                        if let Err(e) = handle(s) {
                            eprintln!("connection ended: {e}");
                        }
                    });
                }
                // For example EMFILE: report it and keep accepting once fds are free.
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    greenshim::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
        Ok(())
    })
    .join()
    .expect("acceptor panicked")
}
