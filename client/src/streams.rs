//! The consumer streams: [`EventStream`] (everything), [`TypedStream`] (one stream's items,
//! decoded) and [`PixelFrameStream`] (decoded stage images). Each is its own broadcast receiver:
//! every consumer sees every event, and one that falls behind is told so, never skipped silently.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use stagelink_contracts::StreamItem;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::StreamError;
use crate::event::{ClientEvent, TypedEvent};
use crate::pixels::PixelFrame;

/// Every [`ClientEvent`] from the moment it was created. Ends when the client closes.
/// A consumer that falls behind the channel gets [`ClientEvent::Lagged`] in place of what it missed.
pub struct EventStream {
    inner: Option<BroadcastStream<ClientEvent>>,
}

impl EventStream {
    pub(crate) fn new(rx: Option<broadcast::Receiver<ClientEvent>>) -> Self {
        Self {
            inner: rx.map(BroadcastStream::new),
        }
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("open", &self.inner.is_some())
            .finish()
    }
}

impl Stream for EventStream {
    type Item = ClientEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        let Some(inner) = &mut self.inner else {
            return Poll::Ready(None);
        };
        inner.poll_next_unpin(cx).map(|item| {
            item.map(|r| match r {
                Ok(event) => event,
                Err(BroadcastStreamRecvError::Lagged(n)) => ClientEvent::Lagged(n),
            })
        })
    }
}

/// The events of one stream, items decoded as `T` (`client.stream::<SpriteDelta>()`).
/// Ends when the client closes.
pub struct TypedStream<T> {
    events: EventStream,
    _item: PhantomData<fn() -> T>,
}

impl<T> TypedStream<T> {
    pub(crate) fn new(events: EventStream) -> Self {
        Self {
            events,
            _item: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for TypedStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedStream")
            .field("item", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T: StreamItem> Stream for TypedStream<T> {
    type Item = Result<TypedEvent<T>, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let event = match self.events.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(event)) => event,
            };
            match event {
                ClientEvent::Event(e) => match TypedEvent::<T>::decode(&e) {
                    None => continue,
                    Some(Ok(typed)) => return Poll::Ready(Some(Ok(typed))),
                    Some(Err(err)) => {
                        return Poll::Ready(Some(Err(StreamError::Decode {
                            stream: e.stream.clone(),
                            seq: e.seq,
                            message: err.to_string(),
                        })));
                    }
                },
                // What was missed may have included this stream's events.
                ClientEvent::Lagged(n) => return Poll::Ready(Some(Err(StreamError::Lagged(n)))),
                _ => continue,
            }
        }
    }
}

/// Decoded stage images, newest first to last. A consumer slower than the frame rate skips
/// frames (each frame is whole, so skipping loses nothing but time). Ends when the client closes.
pub struct PixelFrameStream {
    inner: Option<BroadcastStream<Arc<PixelFrame>>>,
}

impl PixelFrameStream {
    pub(crate) fn new(rx: Option<broadcast::Receiver<Arc<PixelFrame>>>) -> Self {
        Self {
            inner: rx.map(BroadcastStream::new),
        }
    }
}

impl std::fmt::Debug for PixelFrameStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PixelFrameStream").finish()
    }
}

impl Stream for PixelFrameStream {
    type Item = Arc<PixelFrame>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Arc<PixelFrame>>> {
        let Some(inner) = &mut self.inner else {
            return Poll::Ready(None);
        };
        loop {
            match inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(frame))) => return Poll::Ready(Some(frame)),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(_)))) => continue,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
