//! Response bodies: bytes ready to send, or a [`Fragment`] whose binary
//! contents are base64-encoded piece by piece as the connection takes
//! them, so a large download is never held as one encoded buffer.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::xml::fragment::base64_len;
use crate::xml::{Fragment, Part};

/// Bytes of binary content encoded per frame (a multiple of 3, so the
/// pieces' texts join into the text of the whole).
const ENCODE_PIECE: usize = 3 * 64 * 1024;

#[derive(Debug)]
enum Piece {
    Ready(Bytes),
    Base64(Bytes),
}

/// The body of every response the gateway sends; its exact length is
/// known from the start (sent as `Content-Length`).
#[derive(Debug, Default)]
pub(crate) struct ResponseBody {
    pieces: VecDeque<Piece>,
    /// The binary content being encoded, and how far.
    current: Option<(Bytes, usize)>,
    /// Bytes of the body not yet produced.
    remaining: u64,
    /// Pieces produced elsewhere (a download streamed from files), in
    /// place of `pieces`.
    stream: Option<tokio::sync::mpsc::Receiver<Bytes>>,
}

impl ResponseBody {
    /// A body of `bytes`, sent as they are.
    pub(crate) fn whole(bytes: Bytes) -> ResponseBody {
        let remaining = bytes.len() as u64;
        let pieces = if bytes.is_empty() {
            VecDeque::new()
        } else {
            VecDeque::from([Piece::Ready(bytes)])
        };
        ResponseBody {
            pieces,
            current: None,
            remaining,
            stream: None,
        }
    }

    /// A body of `len` bytes that arrive through `pieces` (a producer
    /// that stops early ends the body short, and the connection with it).
    pub(crate) fn streamed(pieces: tokio::sync::mpsc::Receiver<Bytes>, len: u64) -> ResponseBody {
        ResponseBody {
            pieces: VecDeque::new(),
            current: None,
            remaining: len,
            stream: Some(pieces),
        }
    }

    /// A body of `fragment`, its binary contents encoded as they are sent.
    pub(crate) fn of_fragment(fragment: Fragment) -> ResponseBody {
        let remaining = fragment.len() as u64;
        let pieces = fragment
            .into_parts()
            .into_iter()
            .filter_map(|part| match part {
                Part::Text(t) if t.is_empty() => None,
                Part::Text(t) => Some(Piece::Ready(Bytes::from(t))),
                Part::Base64(b) if b.is_empty() => None,
                Part::Base64(b) => Some(Piece::Base64(b)),
            })
            .collect();
        ResponseBody {
            pieces,
            current: None,
            remaining,
            stream: None,
        }
    }

    /// The whole body as one buffer, for a viewer that keeps what was
    /// sent (the cockpit's traffic view), without consuming it: the
    /// pieces are joined (binary contents encoded) into one, which is then
    /// what is sent, so the bytes are produced once. `None` for a body
    /// longer than `max`, one already being sent, or one produced
    /// elsewhere (a stream: only polling it gives its bytes).
    pub(crate) fn kept(&mut self, max: usize) -> Option<Bytes> {
        if self.stream.is_some() || self.current.is_some() || self.remaining > max as u64 {
            return None;
        }
        if let [Piece::Ready(one)] = self.pieces.make_contiguous() {
            return Some(one.clone());
        }
        let mut joined = Vec::with_capacity(self.remaining as usize);
        for piece in &self.pieces {
            match piece {
                Piece::Ready(bytes) => joined.extend_from_slice(bytes),
                Piece::Base64(bytes) => {
                    let mut text = String::with_capacity(base64_len(bytes.len()));
                    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut text);
                    joined.extend_from_slice(text.as_bytes());
                }
            }
        }
        let joined = Bytes::from(joined);
        self.pieces.clear();
        if !joined.is_empty() {
            self.pieces.push_back(Piece::Ready(joined.clone()));
        }
        Some(joined)
    }

    /// The next bytes of the body; `None` at its end.
    fn next_piece(&mut self) -> Option<Bytes> {
        loop {
            if let Some((bytes, offset)) = &mut self.current {
                if *offset < bytes.len() {
                    let end = (*offset + ENCODE_PIECE).min(bytes.len());
                    let mut text = String::with_capacity(base64_len(end - *offset));
                    base64::engine::general_purpose::STANDARD
                        .encode_string(&bytes[*offset..end], &mut text);
                    *offset = end;
                    return Some(self.produced(Bytes::from(text)));
                }
                self.current = None;
            }
            match self.pieces.pop_front()? {
                Piece::Ready(bytes) => return Some(self.produced(bytes)),
                Piece::Base64(bytes) => self.current = Some((bytes, 0)),
            }
        }
    }

    fn produced(&mut self, bytes: Bytes) -> Bytes {
        self.remaining = self.remaining.saturating_sub(bytes.len() as u64);
        bytes
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(stream) = this.stream.as_mut() {
            return match stream.poll_recv(cx) {
                Poll::Ready(Some(bytes)) => {
                    Poll::Ready(Some(Ok(Frame::data(this.produced(bytes)))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
        Poll::Ready(this.next_piece().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(body: ResponseBody) -> Bytes {
        let hint = body.size_hint().exact();
        let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap();
        assert_eq!(hint, Some(bytes.len() as u64));
        bytes
    }

    #[tokio::test]
    async fn a_fragment_is_sent_as_its_whole_text() {
        for len in [
            0,
            1,
            2,
            3,
            ENCODE_PIECE - 1,
            ENCODE_PIECE,
            2 * ENCODE_PIECE + 5,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 13 % 256) as u8).collect();
            let mut w = crate::xml::XmlWriter::deferring_binaries();
            w.start("r");
            w.start("a");
            w.binary(&Bytes::from(data.clone()));
            w.end("a");
            w.start("b");
            w.binary(&Bytes::from(data.clone()));
            w.end("b");
            w.end("r");
            let fragment = w.into_fragment();
            let expected = fragment.clone().into_string();
            let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
            assert_eq!(expected, format!("<r><a>{encoded}</a><b>{encoded}</b></r>"));
            let sent = collect(ResponseBody::of_fragment(fragment.clone())).await;
            assert_eq!(sent, expected.as_bytes(), "length {len}");
            // Kept for a viewer, the body is still sent whole.
            let mut body = ResponseBody::of_fragment(fragment);
            let kept = body.kept(usize::MAX).unwrap();
            assert_eq!(kept, expected.as_bytes(), "kept, length {len}");
            assert_eq!(
                collect(body).await,
                expected.as_bytes(),
                "after kept, length {len}"
            );
        }
        // Nothing is kept of a body over the bound or produced elsewhere.
        assert!(ResponseBody::whole(Bytes::from("xy")).kept(1).is_none());
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        assert!(ResponseBody::streamed(rx, 2).kept(usize::MAX).is_none());
        assert!(collect(ResponseBody::whole(Bytes::new())).await.is_empty());
        assert_eq!(collect(ResponseBody::whole(Bytes::from("x"))).await, "x");
    }
}
