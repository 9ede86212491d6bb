//! The fake's listener: while the fake is down it accepts connections and
//! closes them at once, as a host whose service has crashed does.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::state::FakeState;

pub(crate) struct DroppingListener {
    inner: TcpListener,
    state: Arc<FakeState>,
}

impl DroppingListener {
    pub fn new(inner: TcpListener, state: Arc<FakeState>) -> DroppingListener {
        DroppingListener { inner, state }
    }
}

impl axum::serve::Listener for DroppingListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.state.is_down() {
                        self.state.record_dropped_connection();
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    return (stream, addr);
                }
                // Too many open files and the like: wait, as axum does.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
