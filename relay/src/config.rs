//! Relay configuration: where to listen, per-project tokens, dev mode, backplane.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// Tokens of one project.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProjectTokens {
    /// A host must present it to publish the project (and to take it over).
    pub host_token: Option<String>,
    /// Grants clients the controller role.
    pub client_token: Option<String>,
    /// Grants clients the observer role.
    pub observer_token: Option<String>,
}

/// The relay's configuration (from a JSON config file and flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// No tokens at all; refused unless `listen` is loopback.
    #[serde(default)]
    pub dev: bool,
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectTokens>,
    /// `redis://…` to share projects with other nodes; `None` = in-memory (single node).
    #[serde(default)]
    pub backplane: Option<String>,
    /// This node's name in the registry.
    #[serde(default)]
    pub node_id: Option<String>,
    /// Threads the client sessions run on (`SessionThreads`): `None` one per CPU, `0` on the
    /// tokio workers.
    #[serde(default)]
    pub session_threads: Option<usize>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 61700))
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            dev: false,
            projects: BTreeMap::new(),
            backplane: None,
            node_id: None,
            session_threads: None,
        }
    }
}

/// Configuration problems, named precisely.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("`{0}` must be PROJECT=TOKEN")]
    TokenFlag(String),
    #[error("--dev needs no tokens and is only allowed on a loopback address, not {0}")]
    DevNotLoopback(SocketAddr),
}

impl RelayConfig {
    /// Reads a JSON config file.
    ///
    /// # Errors
    /// When the file cannot be read or a field is wrong (the error names the path and field).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        serde::Deserialize::deserialize(de).map_err(|e: serde_json::Error| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Applies a `PROJECT=TOKEN` flag to one of the token kinds.
    ///
    /// # Errors
    /// When the flag is not `PROJECT=TOKEN`.
    pub fn set_token(
        &mut self,
        flag: &str,
        pick: fn(&mut ProjectTokens) -> &mut Option<String>,
    ) -> Result<(), ConfigError> {
        let (project, token) = flag
            .split_once('=')
            .filter(|(p, t)| !p.is_empty() && !t.is_empty())
            .ok_or_else(|| ConfigError::TokenFlag(flag.to_owned()))?;
        *pick(self.projects.entry(project.to_owned()).or_default()) = Some(token.to_owned());
        Ok(())
    }

    /// Checks the rules that keep the relay safe by default.
    ///
    /// # Errors
    /// `--dev` on a non-loopback address.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dev && !self.listen.ip().is_loopback() {
            return Err(ConfigError::DevNotLoopback(self.listen));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_flags_and_dev_rule() {
        let mut c = RelayConfig::default();
        c.set_token("demo=abc", |p| &mut p.host_token).unwrap();
        assert_eq!(c.projects["demo"].host_token.as_deref(), Some("abc"));
        assert!(c.set_token("demo", |p| &mut p.host_token).is_err());
        c.dev = true;
        assert!(c.validate().is_ok());
        c.listen = "0.0.0.0:1".parse().unwrap();
        assert!(matches!(c.validate(), Err(ConfigError::DevNotLoopback(_))));
    }

    #[test]
    fn config_file_errors_name_the_field() {
        let dir = std::env::temp_dir().join(format!("relay-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("relay.json");
        std::fs::write(&path, r#"{"projects":{"demo":{"host_tokn":"x"}}}"#).unwrap();
        let err = RelayConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("host_tokn"), "{err}");
        assert!(err.contains("relay.json"), "{err}");
    }
}
