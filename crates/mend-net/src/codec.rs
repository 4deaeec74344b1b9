//! Frames on a request-response stream: `length (u32 BE) | version | postcard body`, with the
//! length checked against the cap before anything is read (see mend-sync's wire module).

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use mend_sync::{decode, encode, frame_len, Request, Response};

/// The codec for both `/mend/sync/1` and `/mend/pair/1`, each with its own cap on a frame.
#[derive(Debug, Clone)]
pub struct MendCodec {
    max: usize,
}

impl MendCodec {
    /// Sync messages: up to [`mend_sync::MAX_MESSAGE_BYTES`].
    pub fn sync() -> Self {
        Self {
            max: mend_sync::MAX_MESSAGE_BYTES,
        }
    }

    /// Pairing messages: up to [`mend_sync::PAIR_MAX_MESSAGE_BYTES`] (4 KiB), read from a
    /// device not known yet.
    pub fn pairing() -> Self {
        Self {
            max: mend_sync::PAIR_MAX_MESSAGE_BYTES,
        }
    }
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 4];
    io.read_exact(&mut prefix).await?;
    let len = frame_len(prefix).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is larger than the {max} this protocol allows"),
        ));
    }
    let mut body = Vec::new();
    io.take(len as u64).read_to_end(&mut body).await?;
    if body.len() != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(body)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: Vec<u8>) -> io::Result<()> {
    let len =
        u32::try_from(body.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&body).await?;
    io.close().await
}

fn invalid(e: mend_sync::SyncError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl libp2p::request_response::Codec for MendCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io, self.max).await?).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io, self.max).await?).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, encode(&r)).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, encode(&r)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::io::Cursor;
    use libp2p::request_response::Codec;

    fn read(bytes: Vec<u8>) -> io::Result<Request> {
        let proto = StreamProtocol::new(mend_sync::SYNC_PROTOCOL);
        block_on(MendCodec::sync().read_request(&proto, &mut Cursor::new(bytes)))
    }

    #[test]
    fn frames_round_trip() {
        let req = Request::Sync {
            journal_id: [1; 16],
            session: 1,
            message: vec![1, 2, 3],
            signatures: vec![7; 96],
        };
        let mut buf = Cursor::new(Vec::new());
        let proto = StreamProtocol::new(mend_sync::SYNC_PROTOCOL);
        block_on(MendCodec::sync().write_request(&proto, &mut buf, req.clone())).unwrap();
        assert_eq!(read(buf.into_inner()).unwrap(), req);
    }

    #[test]
    fn oversized_truncated_and_garbage_frames_are_refused() {
        // A length over the cap is refused before anything is allocated or read.
        let err = read(vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // A frame that ends early.
        assert!(read(vec![0, 0, 0, 10, 1, 0]).is_err());
        // Garbage of the right length.
        assert!(read(vec![0, 0, 0, 4, 1, 0xff, 0xff, 0xff]).is_err());
        // A wrong version.
        assert!(read(vec![0, 0, 0, 2, 9, 0]).is_err());
        // No frame at all.
        assert!(read(vec![]).is_err());
    }

    #[test]
    fn a_pairing_frame_over_4_kib_is_refused_before_it_is_read() {
        let proto = StreamProtocol::new(mend_sync::PAIR_PROTOCOL);
        let mut frame = 5000u32.to_be_bytes().to_vec();
        frame.extend(vec![0u8; 5000]);
        let err = block_on(MendCodec::pairing().read_request(&proto, &mut Cursor::new(frame)))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("larger than the 4096"), "{err}");
    }
}
