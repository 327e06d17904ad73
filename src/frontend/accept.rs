//! Accepting on the HTTP listeners (API, dedicated WebSocket, monitor) and serving an axum app
//! on what was accepted: the per-IP connection limit, counted from accept to close (TLS
//! connections included, before their handshake), TLS handshakes in tasks of their own, and a
//! `429 Too Many Requests` for a connection over the limit.
//!
//! A refused connection is answered by hyper directly, not by the app: it never reaches a
//! handler, holds no slot, and is closed after one response (or after [`REFUSAL_TIME`]).
//! At most [`MAX_REFUSING`] refusals are answered at once per listener; past that a refused
//! connection is closed without an answer, so a flood costs no more than that.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::http::problem::{ApiError, ProblemKind};
use super::limits::{IpSlot, ListenerLimits};
use super::tls::HttpTls;

/// The longest a refused connection is kept: its TLS handshake, reading its request and
/// writing the 429.
const REFUSAL_TIME: Duration = Duration::from_secs(5);

/// Refused connections answered at once, per listener.
const MAX_REFUSING: usize = 256;

/// The `Retry-After` of a refused connection: a slot comes back whenever one of the
/// address's connections closes, which the server cannot predict.
const REFUSAL_RETRY_SECS: u64 = 1;

/// Serves `app` on `listener` until `shutdown`: HTTPS (and WSS) when `tls` is set, plain
/// HTTP otherwise, within the per-IP connection limit of `limits` when given. Handlers see
/// the client's address (`ConnectInfo<SocketAddr>`) either way.
pub async fn serve_http(
    listener: TcpListener,
    tls: Option<HttpTls>,
    limits: Option<Arc<ListenerLimits>>,
    app: Router,
    shutdown: CancellationToken,
) {
    let stop = async move { shutdown.cancelled().await };
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    // tap_io: axum provides the client address for any listener wrapped this way.
    let listener = HttpListener::new(listener, tls, limits).tap_io(|_| {});
    // axum's serve only returns once shutdown has completed.
    let _ = axum::serve(listener, service)
        .with_graceful_shutdown(stop)
        .await;
}

/// A TCP listener whose connections arrive admitted (within the per-IP limit) and, with TLS,
/// after their handshake. Handshakes run in tasks of their own (each within the configured
/// timeout), so a client that stalls in its handshake holds up nobody else.
pub struct HttpListener {
    ready: mpsc::Receiver<(Conn, SocketAddr)>,
    local: io::Result<SocketAddr>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl HttpListener {
    /// Starts accepting on `listener`.
    pub fn new(
        listener: TcpListener,
        tls: Option<HttpTls>,
        limits: Option<Arc<ListenerLimits>>,
    ) -> Self {
        let local = listener.local_addr();
        let (tx, ready) = mpsc::channel(64);
        let acceptor_task = tokio::spawn(accept_loop(listener, tls, limits, tx));
        HttpListener {
            ready,
            local,
            acceptor_task,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<HttpTls>,
    limits: Option<Arc<ListenerLimits>>,
    tx: mpsc::Sender<(Conn, SocketAddr)>,
) {
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match &limits {
            None => None,
            Some(limits) => match limits.admit(addr.ip()) {
                Some(slot) => Some(slot),
                None => {
                    debug!(%addr, listener = limits.name, "Too many connections from this address.");
                    refuse(tcp, addr, tls.as_ref(), &refusing);
                    continue;
                }
            },
        };
        match &tls {
            None => {
                let conn = Conn {
                    stream: Stream::Plain(tcp),
                    _slot: slot,
                };
                if tx.send((conn, addr)).await.is_err() {
                    return;
                }
            }
            Some(tls) => {
                let (acceptor, timeout, tx) = (tls.acceptor.clone(), tls.timeout, tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let conn = Conn {
                                stream: Stream::Tls(Box::new(stream)),
                                _slot: slot,
                            };
                            let _ = tx.send((conn, addr)).await;
                        }
                        Ok(Err(e)) => debug!(%addr, error = %e, "TLS handshake failed."),
                        Err(_) => debug!(%addr, "TLS handshake timeout."),
                    }
                });
            }
        }
    }
}

/// Answers a connection over the per-IP limit with one 429 and closes it, in a task of its
/// own; closes it unanswered when [`MAX_REFUSING`] refusals are already under way.
fn refuse(tcp: TcpStream, addr: SocketAddr, tls: Option<&HttpTls>, refusing: &Arc<Semaphore>) {
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    let acceptor = tls.map(|t| t.acceptor.clone());
    tokio::spawn(async move {
        let _permit = permit;
        let answered = tokio::time::timeout(REFUSAL_TIME, async move {
            match acceptor {
                None => answer_429(tcp).await,
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => answer_429(stream).await,
                    Err(e) => debug!(%addr, error = %e, "TLS handshake failed."),
                },
            }
        })
        .await;
        if answered.is_err() {
            debug!(%addr, "Refused connection timed out.");
        }
    });
}

/// Serves one request on `io` with the `too-many-connections` problem, then closes.
async fn answer_429<S>(io: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(|_request| async {
        let problem = ApiError::new(
            ProblemKind::TooManyConnections,
            "this address has as many connections open as the server allows; close one",
        )
        .retry_after(REFUSAL_RETRY_SECS);
        Ok::<_, Infallible>(problem.into_response())
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

impl Drop for HttpListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match &self.local {
            Ok(addr) => Ok(*addr),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// An accepted connection, plain or TLS, holding its client IP's slot until it is dropped
/// (after the last response, or when an upgraded WebSocket ends).
pub struct Conn {
    stream: Stream,
    _slot: Option<IpSlot>,
}

enum Stream {
    Plain(TcpStream),
    // Boxed: a TLS session is large, a plain stream small.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
