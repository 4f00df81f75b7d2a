//! A project on this relay: its [`Hub`] (the same fan-out code the hosts run), the host slot
//! (or, with a shared backplane, the other node holding the host), and the forwarder that
//! carries client commands and requests to whichever host is live.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use stagelink_contracts::{ErrorBody, ErrorCode};
use stagelink_publisher::{
    AuthConfig, EngineLink, Hub, HubConfig, PendingCommand, PendingRequest, SessionThreads,
};
use tokio::sync::{mpsc, oneshot};

use crate::backplane::Backplane;
use crate::canvas::Canvas;
use crate::config::ProjectTokens;
use crate::remote::{RemoteHost, RemoteWork};

/// What the forwarder hands the live host connection.
#[derive(Debug)]
pub enum ToHost {
    Command(PendingCommand),
    Request(PendingRequest),
    /// A command or request of a client on another node, forwarded over the backplane.
    Remote(RemoteWork),
}

/// The live host of a project.
#[derive(Debug)]
pub struct HostSlot {
    /// Unique per connection, so a departing host only clears its own slot.
    pub conn_id: u64,
    pub to_host: mpsc::UnboundedSender<ToHost>,
    /// Fired to evict this host when another takes over.
    pub evict: Option<oneshot::Sender<()>>,
    pub version: String,
    pub since: SystemTime,
    /// The node holding the host.
    pub node: String,
}

/// One project.
#[derive(Debug)]
pub struct Project {
    pub name: String,
    pub hub: Hub,
    pub tokens: ProjectTokens,
    pub host: Mutex<Option<HostSlot>>,
    /// Whether a host was ever connected (so a later one is announced with `host_joined`).
    pub had_host: Mutex<bool>,
    /// The node holding the host when it is another node (shared backplane only); events then
    /// arrive over the backplane and commands and requests are forwarded there.
    pub remote: Mutex<Option<RemoteHost>>,
    /// The remote host's frame, painted from the tiles on the backplane.
    pub(crate) remote_canvas: Mutex<Canvas>,
    /// Where work goes when the host is on another node, and where this node's host's
    /// messages are published.
    pub(crate) backplane: Backplane,
}

/// A row of `GET /projects`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProjectListing {
    pub name: String,
    pub host: bool,
    pub host_version: Option<String>,
    pub clients: usize,
    /// Seconds since the Unix epoch when the current host connected.
    pub since: Option<u64>,
    pub node: Option<String>,
}

impl Project {
    /// A project whose clients authenticate with `tokens` (or nothing in dev mode).
    pub fn new(name: &str, tokens: ProjectTokens, dev: bool, backplane: Backplane) -> Arc<Self> {
        let auth = AuthConfig {
            controller_token: tokens.client_token.clone(),
            observer_token: tokens.observer_token.clone(),
            host_token: None,
            open: dev,
            accept_hosts: false,
        };
        let hub = Hub::new(HubConfig {
            project: name.to_owned(),
            server_name: "stagelink-relay".into(),
            auth,
            ..HubConfig::default()
        });
        let project = Arc::new(Self {
            name: name.to_owned(),
            hub,
            tokens,
            host: Mutex::new(None),
            had_host: Mutex::new(false),
            remote: Mutex::new(None),
            remote_canvas: Mutex::new(Canvas::default()),
            backplane,
        });
        if let Some(link) = project.hub.take_engine_link() {
            tokio::spawn(forward(Arc::downgrade(&project), link));
        }
        project
    }

    /// Whether a host is live for this project, on this node or another.
    pub fn has_host(&self) -> bool {
        self.host.lock().is_some() || self.remote.lock().is_some()
    }

    /// The registry row.
    pub fn listing(&self) -> ProjectListing {
        let mut row = ProjectListing {
            name: self.name.clone(),
            host: false,
            host_version: None,
            clients: self.hub.session_count(),
            since: None,
            node: None,
        };
        if let Some(h) = self.host.lock().as_ref() {
            row.host = true;
            row.host_version = Some(h.version.clone());
            row.since = Some(
                h.since
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            );
            row.node = Some(h.node.clone());
        } else if let Some(r) = self.remote.lock().as_ref() {
            row.host = true;
            row.host_version = Some(r.version.clone());
            row.since = Some(r.since);
            row.node = Some(r.node.clone());
        }
        row
    }

    /// Hands a client's command or request to the live host — on this node, or over the
    /// backplane to the node holding it — or answers `no_host`.
    pub fn to_host(&self, work: ToHost) {
        let sender = self.host.lock().as_ref().map(|h| h.to_host.clone());
        let work = match sender {
            Some(tx) => match tx.send(work) {
                Ok(()) => return,
                Err(mpsc::error::SendError(work)) => work,
            },
            None => work,
        };
        if !matches!(work, ToHost::Remote(_)) {
            let node = self.remote.lock().as_ref().map(|r| r.node.clone());
            if let Some(node) = node {
                return self.backplane.forward(&self.name, &node, work);
            }
        }
        reject_no_host(work);
    }
}

/// Answers a client's request with the host's response.
pub fn answer_request(
    pending: PendingRequest,
    ok: bool,
    data: Option<Value>,
    error: Option<ErrorBody>,
) {
    match (ok, data, error) {
        (true, Some(data), _) => pending.answer_json(data),
        (_, _, Some(error)) => pending.fail(error),
        _ => pending.fail(ErrorBody::new(
            ErrorCode::Internal,
            "the host answered without data or error",
        )),
    }
}

/// Answers a command or request that has no host to go to.
pub fn reject_no_host(work: ToHost) {
    let message = "the project has no host right now; try again when it returns";
    match work {
        ToHost::Command(c) => c.rejected(ErrorCode::NoHost, message),
        ToHost::Request(r) => r.fail(ErrorBody::new(ErrorCode::NoHost, message)),
        ToHost::Remote(w) => w.reject(ErrorCode::NoHost, message),
    }
}

async fn forward(project: std::sync::Weak<Project>, mut link: EngineLink) {
    loop {
        let work = tokio::select! {
            Some(c) = link.commands.recv() => ToHost::Command(c),
            Some(r) = link.requests.recv() => ToHost::Request(r),
            else => return,
        };
        match project.upgrade() {
            Some(p) => p.to_host(work),
            None => return,
        }
    }
}

/// Every project this node knows.
#[derive(Debug, Default)]
pub struct Registry {
    projects: Mutex<BTreeMap<String, Arc<Project>>>,
    /// Given to every project it creates.
    backplane: Backplane,
    /// Where every project's client sessions run; `None`: on the tokio workers.
    session_threads: Option<SessionThreads>,
}

impl Registry {
    /// An empty registry whose projects share `backplane`.
    pub fn new(backplane: Backplane, session_threads: Option<SessionThreads>) -> Self {
        Self {
            projects: Mutex::default(),
            backplane,
            session_threads,
        }
    }

    /// The project, if known.
    pub fn get(&self, name: &str) -> Option<Arc<Project>> {
        self.projects.lock().get(name).cloned()
    }

    /// The project, created when missing.
    pub fn get_or_create(&self, name: &str, tokens: ProjectTokens, dev: bool) -> Arc<Project> {
        self.projects
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| {
                let project = Project::new(name, tokens, dev, self.backplane.clone());
                if let Some(threads) = &self.session_threads {
                    project.hub.run_sessions_on(threads.clone());
                }
                project
            })
            .clone()
    }

    /// All projects.
    pub fn all(&self) -> Vec<Arc<Project>> {
        self.projects.lock().values().cloned().collect()
    }
}
