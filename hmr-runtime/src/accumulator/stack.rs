//! The stack of open scopes: one per thread, and one per tracked `async fn`
//! future, which moves its frame onto the polling thread's stack for each poll.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Numbers executions that reach the store or a listener (never 0).
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

use crate::events::ids::derive_id;
use crate::events::{CallId, EntityId, Event, ModuleVersion, Site, TrackId};
use crate::instrument::callsite::Key;

/// One segment of a structural path.
#[derive(Clone, Debug)]
pub(crate) enum Segment {
    Track(&'static Key),
    Module(Arc<ModuleVersion>),
}

/// A materialised structural path: built only when someone needs it (an
/// entity was captured, a listener wants the event, a module runs).
#[derive(Debug)]
pub(crate) struct PathNode {
    segment: Segment,
    n: u32,
    parent: Option<Arc<PathNode>>,
}

impl PathNode {
    pub(crate) fn path(&self) -> String {
        let mut chain = vec![self];
        let mut cur = self;
        while let Some(p) = cur.parent.as_deref() {
            chain.push(p);
            cur = p;
        }
        let mut out = String::new();
        for (i, node) in chain.iter().rev().enumerate() {
            if i > 0 {
                out.push('/');
            }
            match &node.segment {
                Segment::Track(key) => {
                    let _ = write!(out, "{}#{}", key.text, node.n);
                }
                Segment::Module(m) => out.push_str(&m.name),
            }
        }
        out
    }

    pub(crate) fn module(&self) -> Option<ModuleVersion> {
        let mut cur = self;
        while let Some(p) = cur.parent.as_deref() {
            cur = p;
        }
        match &cur.segment {
            Segment::Module(m) => Some((**m).clone()),
            Segment::Track(_) => None,
        }
    }
}

/// Where a frame's parent lives.
#[derive(Debug)]
pub(crate) enum ParentLink {
    /// No parent: a top-level call or a module scope.
    Root,
    /// The frame below on the same stack (sync calls).
    Below,
    /// Captured when an async frame was first polled.
    Node(Option<Arc<PathNode>>),
}

#[derive(Debug)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one scope, read on the hot path"
)]
pub(crate) struct Frame {
    pub(crate) id: TrackId,
    /// This execution; numbered when its `track-call` is first built.
    pub(crate) call: CallId,
    /// The enclosing *track* (None under a module scope or at top level).
    pub(crate) parent: Option<TrackId>,
    pub(crate) segment: Segment,
    pub(crate) n: u32,
    /// Repeat counters of this execution: (key hash, calls so far).
    children: Vec<(u64, u32)>,
    pub(crate) entity: Option<EntityId>,
    node: Option<Arc<PathNode>>,
    link: ParentLink,
    /// Its events go to the store (inside a module, or it captured an entity).
    pub(crate) reduced: bool,
    /// The listener horizon its `track-call` was published under (0: it was
    /// not); its return goes to the same listeners.
    pub(crate) announced: u64,
    /// The thread was already unwinding when the scope opened (a tracked
    /// call from a `Drop` during a panic): it did not unwind *through* it.
    pub(crate) panicking_at_entry: bool,
    pub(crate) in_module: bool,
}

impl Frame {
    pub(crate) fn is_module(&self) -> bool {
        matches!(self.segment, Segment::Module(_))
    }

    fn key(&self) -> Option<&'static Key> {
        match self.segment {
            Segment::Track(key) => Some(key),
            Segment::Module(_) => None,
        }
    }

    /// The `track-call` event of this frame; `node` is its materialised path.
    pub(crate) fn call_event(&mut self, node: &PathNode) -> Event {
        let key = self.key().expect("module frames have no track-call");
        if self.call.0 == 0 {
            self.call = CallId(NEXT_CALL.fetch_add(1, Ordering::Relaxed));
        }
        Event::TrackCall {
            id: self.id,
            call: self.call,
            key: key.text.to_string(),
            path: node.path(),
            parent: self.parent,
            site: Site {
                file: key.callsite.file.to_owned(),
                line: key.callsite.line,
                column: key.callsite.column,
            },
            module: node.module(),
            reset: key.callsite.reset,
        }
    }
}

/// What the `track-call-return` of a closed sync frame needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Closed {
    pub(crate) id: TrackId,
    pub(crate) call: CallId,
    pub(crate) entity: Option<EntityId>,
    pub(crate) reduced: bool,
    pub(crate) announced: u64,
    pub(crate) panicking_at_entry: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Stack {
    pub(crate) frames: Vec<Frame>,
    /// Emptied child-counter vectors, reused so a parent with children does
    /// not allocate per execution.
    spare: Vec<Vec<(u64, u32)>>,
}

thread_local! {
    pub(crate) static STACK: RefCell<Stack> = const {
        RefCell::new(Stack { frames: Vec::new(), spare: Vec::new() })
    };
}

/// What a new frame inherits from the scope it is opened in.
struct Placement {
    id: TrackId,
    parent: Option<TrackId>,
    n: u32,
    in_module: bool,
}

impl Stack {
    /// Place a call of `key` under the top frame, counting it there.
    #[inline]
    fn place(&mut self, key: &'static Key) -> Placement {
        match self.frames.last_mut() {
            Some(top) => {
                let n = if let Some((_, count)) =
                    top.children.iter_mut().find(|(h, _)| *h == key.hash)
                {
                    *count += 1;
                    *count - 1
                } else {
                    {
                        if top.children.capacity() == 0
                            && let Some(spare) = self.spare.pop()
                        {
                            top.children = spare;
                        }
                        top.children.push((key.hash, 1));
                        0
                    }
                };
                Placement {
                    id: derive_id(top.id.0, key.hash, n),
                    parent: if top.is_module() { None } else { Some(top.id) },
                    n,
                    in_module: top.in_module,
                }
            }
            // Outside any scope and module: one track per static key.
            None => {
                Placement { id: derive_id(0, key.hash, 0), parent: None, n: 0, in_module: false }
            }
        }
    }

    /// Open a sync scope; returns the new depth and whether the scope's
    /// events go to the store.
    #[inline]
    pub(crate) fn push_call(&mut self, key: &'static Key) -> (usize, bool) {
        let p = self.place(key);
        let link = if self.frames.is_empty() { ParentLink::Root } else { ParentLink::Below };
        let frame = Frame {
            id: p.id,
            call: CallId(0),
            parent: p.parent,
            segment: Segment::Track(key),
            n: p.n,
            children: Vec::new(),
            entity: None,
            node: None,
            link,
            reduced: p.in_module,
            announced: 0,
            panicking_at_entry: std::thread::panicking(),
            in_module: p.in_module,
        };
        // With room known, the frame is written straight into the buffer;
        // behind `Vec::push`'s possible reallocation it is built on the
        // machine stack and copied, and the copy stalls on store forwarding.
        if self.frames.len() == self.frames.capacity() {
            self.grow_and_push(frame);
        } else {
            self.frames.push(frame);
        }
        (self.frames.len(), p.in_module)
    }

    #[cold]
    #[inline(never)]
    fn grow_and_push(&mut self, frame: Frame) {
        self.frames.push(frame);
    }

    /// A frame for an `async fn` future, placed under the current top but not
    /// pushed: the future owns it and pushes it for each poll.
    pub(crate) fn new_async_frame(&mut self, key: &'static Key) -> Frame {
        let p = self.place(key);
        let parent_node = self.top_node();
        Frame {
            id: p.id,
            call: CallId(0),
            parent: p.parent,
            segment: Segment::Track(key),
            n: p.n,
            children: Vec::new(),
            entity: None,
            node: None,
            link: ParentLink::Node(parent_node),
            reduced: p.in_module,
            announced: 0,
            panicking_at_entry: false,
            in_module: p.in_module,
        }
    }

    /// Open a module scope.
    pub(crate) fn push_module(&mut self, module: ModuleVersion) -> usize {
        let segment = Segment::Module(Arc::new(module));
        let Segment::Module(m) = &segment else { unreachable!() };
        let id = derive_id(0, crate::events::ids::hash_str(&m.name) ^ MODULE_SALT, 0);
        self.frames.push(Frame {
            id,
            call: CallId(0),
            parent: None,
            segment,
            n: 0,
            children: Vec::new(),
            entity: None,
            node: None,
            link: ParentLink::Root,
            reduced: true,
            announced: 0,
            panicking_at_entry: false,
            in_module: true,
        });
        self.frames.len()
    }

    /// Close the frame opened at `depth` (and any frame a leaked scope left above it).
    pub(crate) fn pop(&mut self, depth: usize) -> Option<Frame> {
        if self.frames.len() < depth || depth == 0 {
            return None;
        }
        self.frames.truncate(depth);
        let mut frame = self.frames.pop()?;
        self.recycle(&mut frame);
        Some(frame)
    }

    /// Close the sync frame opened at `depth` (and any frame a leaked scope
    /// left above it) where it lies, without moving it out of the stack.
    /// Returns what its `track-call-return` needs if someone wants that event.
    #[inline]
    pub(crate) fn pop_call(&mut self, depth: usize) -> Option<Closed> {
        if self.frames.len() < depth || depth == 0 {
            return None;
        }
        self.frames.truncate(depth);
        let frame = self.frames.last_mut()?;
        let closed = if frame.reduced || frame.announced != 0 {
            Some(Closed {
                id: frame.id,
                call: frame.call,
                entity: frame.entity,
                reduced: frame.reduced,
                announced: frame.announced,
                panicking_at_entry: frame.panicking_at_entry,
            })
        } else {
            None
        };
        if frame.children.capacity() != 0 {
            let children = std::mem::take(&mut frame.children);
            self.keep_spare(children);
        }
        self.frames.truncate(depth - 1);
        closed
    }

    /// Take back an async frame pushed for one poll.
    pub(crate) fn take_back(&mut self, depth: usize) -> Option<Frame> {
        if self.frames.len() < depth || depth == 0 {
            return None;
        }
        self.frames.truncate(depth);
        self.frames.pop()
    }

    pub(crate) fn recycle(&mut self, frame: &mut Frame) {
        if frame.children.capacity() != 0 {
            self.keep_spare(std::mem::take(&mut frame.children));
        }
    }

    fn keep_spare(&mut self, mut children: Vec<(u64, u32)>) {
        if self.spare.len() < 64 {
            children.clear();
            self.spare.push(children);
        }
    }

    /// The materialised path of the frame at `index`.
    pub(crate) fn node_at(&mut self, index: usize) -> Arc<PathNode> {
        if let Some(node) = &self.frames[index].node {
            return node.clone();
        }
        let parent = match &self.frames[index].link {
            ParentLink::Root => None,
            ParentLink::Below => index.checked_sub(1).map(|i| self.node_at(i)),
            ParentLink::Node(node) => node.clone(),
        };
        let frame = &mut self.frames[index];
        let node = Arc::new(PathNode { segment: frame.segment.clone(), n: frame.n, parent });
        frame.node = Some(node.clone());
        node
    }

    fn top_node(&mut self) -> Option<Arc<PathNode>> {
        let len = self.frames.len();
        (len > 0).then(|| self.node_at(len - 1))
    }

    /// The `track-call` event of the top frame (none for a module scope).
    pub(crate) fn top_call_event(&mut self) -> Option<Event> {
        let index = self.frames.len().checked_sub(1)?;
        if self.frames[index].is_module() {
            return None;
        }
        let node = self.node_at(index);
        Some(self.frames[index].call_event(&node))
    }
}

/// Distinguishes a module's scope id from a top-level track of the same text.
const MODULE_SALT: u64 = 0x6d6f_6475_6c65_0000;
