//! A connection's outbound queue and the task that writes it to the socket.
//!
//! Publishers on other tasks append to the queue under a short lock and never wait for the
//! socket. Small messages are copied into one contiguous buffer so a burst becomes a single
//! write; large payloads are queued as the publisher's `Bytes` (no copy) and written with a
//! vectored write. The writer swaps the queue out with spare buffers, so steady traffic
//! allocates nothing.

use std::io::IoSlice;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Payloads at least this large are queued by reference instead of copied.
pub const ZERO_COPY_THRESHOLD: usize = 2048;

/// Bytes waiting to be written to one client, in order.
#[derive(Default)]
pub struct Outbound {
    /// Earlier data: frozen segments and large payloads.
    chunks: Vec<Bytes>,
    /// The tail: everything queued after the last chunk.
    buf: BytesMut,
    /// Bytes queued or being written (checked against max_pending).
    pub pending: usize,
    /// The writer was already signalled and has not drained since.
    pub signaled: bool,
    /// No more data is accepted.
    pub closed: bool,
}

impl Outbound {
    /// Appends a small piece by copying it.
    pub fn push_slice(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.pending += data.len();
    }

    /// The tail buffer, for encoders that write in place. The caller adds what it wrote to
    /// `pending` via [`Outbound::account`].
    pub fn tail(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Counts bytes written directly into [`Outbound::tail`].
    pub fn account(&mut self, n: usize) {
        self.pending += n;
    }

    /// Appends a payload, by reference when it is large.
    pub fn push_bytes(&mut self, data: &Bytes) {
        if data.len() < ZERO_COPY_THRESHOLD {
            self.push_slice(data);
            return;
        }
        if !self.buf.is_empty() {
            self.chunks.push(self.buf.split().freeze());
        }
        self.chunks.push(data.clone());
        self.pending += data.len();
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.buf.is_empty()
    }

    /// Moves the queued data into the writer's spare containers (which must be empty) and
    /// clears the signal, so the next append signals the writer again.
    pub fn take_into(&mut self, chunks: &mut Vec<Bytes>, buf: &mut BytesMut) {
        std::mem::swap(&mut self.chunks, chunks);
        std::mem::swap(&mut self.buf, buf);
        self.signaled = false;
    }
}

/// Why writing stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The write deadline passed: the client is not reading (a slow consumer).
    Deadline,
    /// The socket failed or was closed by the peer.
    Io,
}

/// Most slices handed to one vectored write (Linux IOV_MAX is 1024).
const MAX_IOV: usize = 64;

/// Writes `chunks` then `buf` fully, all of it within `deadline`, and empties both.
/// `written` hears of every write as it completes, so the queue's `pending` (and the stall
/// gate behind it) follows a slow reader write by write rather than batch by batch.
pub async fn write_batch<W: AsyncWrite + Unpin>(
    w: &mut W,
    chunks: &mut Vec<Bytes>,
    buf: &mut BytesMut,
    deadline: Duration,
    mut written: impl FnMut(usize),
) -> Result<(), WriteError> {
    let until = tokio::time::Instant::now() + deadline;
    if chunks.is_empty() {
        // The common case: one contiguous buffer.
        let mut from = 0;
        while from < buf.len() {
            let n = timed(until, w.write(&buf[from..])).await?;
            if n == 0 {
                return Err(WriteError::Io);
            }
            from += n;
            written(n);
        }
        buf.clear();
        return Ok(());
    }
    let mut tail = buf.split().freeze();
    let mut idx = 0;
    while idx < chunks.len() || tail.has_remaining() {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(MAX_IOV);
        for c in chunks[idx..].iter().take(MAX_IOV) {
            slices.push(IoSlice::new(c));
        }
        if slices.len() < MAX_IOV && tail.has_remaining() {
            slices.push(IoSlice::new(&tail));
        }
        let mut n = timed(until, w.write_vectored(&slices)).await?;
        if n == 0 {
            return Err(WriteError::Io);
        }
        drop(slices);
        written(n);
        while n > 0 {
            if idx < chunks.len() {
                let c = &mut chunks[idx];
                let k = n.min(c.len());
                c.advance(k);
                n -= k;
                if c.is_empty() {
                    idx += 1;
                }
            } else {
                let k = n.min(tail.len());
                tail.advance(k);
                n -= k;
            }
        }
    }
    chunks.clear();
    // Give the tail's allocation back when no one else holds it, so the next swap reuses it.
    *buf = BytesMut::from(tail);
    buf.clear();
    Ok(())
}

async fn timed<T>(
    until: tokio::time::Instant,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, WriteError> {
    match tokio::time::timeout_at(until, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(WriteError::Io),
        Err(_) => Err(WriteError::Deadline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_in_order_with_large_chunks() {
        let mut out = Outbound::default();
        out.push_slice(b"a");
        let big = Bytes::from(vec![b'x'; ZERO_COPY_THRESHOLD]);
        out.push_bytes(&big);
        out.push_slice(b"b");
        assert_eq!(out.pending, ZERO_COPY_THRESHOLD + 2);
        let (mut chunks, mut buf) = (Vec::new(), BytesMut::new());
        out.take_into(&mut chunks, &mut buf);
        assert!(out.is_empty());
        let mut sink = Vec::new();
        let mut n = 0;
        write_batch(
            &mut sink,
            &mut chunks,
            &mut buf,
            Duration::from_secs(1),
            |k| n += k,
        )
        .await
        .expect("vec writes cannot fail");
        assert_eq!(n, ZERO_COPY_THRESHOLD + 2);
        assert_eq!(sink[0], b'a');
        assert_eq!(*sink.last().expect("non-empty"), b'b');
        assert!(chunks.is_empty() && buf.is_empty());
    }
}
