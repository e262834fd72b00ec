//! A thin TCP layer in front of the wiremock server, for the one fault wiremock cannot make: a
//! connection reset. It accepts connections, numbers them from 1, and copies bytes both ways
//! to the server; a connection whose number is listed is read until its first bytes arrive
//! (the client is mid-request), then closed with `SO_LINGER` 0, so the kernel answers with a
//! RST and the client sees "connection reset".

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;

/// Starts the layer on `listener` (a free loopback port when `None`) in front of `upstream`;
/// returns its address.
pub(crate) async fn start(
    listener: Option<std::net::TcpListener>,
    upstream: SocketAddr,
    resets: Vec<u32>,
    counter: std::sync::Arc<std::sync::atomic::AtomicU32>,
) -> io::Result<SocketAddr> {
    let listener = super::serve::listen(listener).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            // Numbered across every layer that shares the counter (one per service).
            let number = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if resets.contains(&number) {
                tokio::spawn(async move {
                    let mut first = [0u8; 1];
                    let _ = inbound.read(&mut first).await;
                    // Deprecated because a positive linger blocks the thread on drop; a zero
                    // linger does not block: the close sends the RST at once.
                    #[allow(deprecated)]
                    let _ = inbound.set_linger(Some(Duration::ZERO));
                });
                continue;
            }
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut server).await;
                }
            });
        }
    });
    Ok(address)
}
