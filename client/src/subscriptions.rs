//! [`Subscriptions`]: the streams a client wants, kept across reconnects so that the `hello` of a
//! new connection subscribes to exactly what the old one had.

use std::collections::BTreeSet;

use stagelink_contracts::StreamName;

/// The wanted streams: everything (`"*"`), or a set of names (unknown names are kept and sent:
/// a newer server may know them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    all: bool,
    names: BTreeSet<String>,
}

impl Subscriptions {
    /// From a config's list.
    pub fn new<S: AsRef<str>>(streams: &[S]) -> Self {
        let mut s = Self::default();
        s.add(streams);
        s
    }

    /// Adds streams (`"*"` for all).
    pub fn add<S: AsRef<str>>(&mut self, streams: &[S]) {
        for name in streams {
            match name.as_ref() {
                "*" => {
                    self.all = true;
                    self.names.clear();
                }
                n if !self.all => {
                    self.names.insert(n.to_owned());
                }
                _ => {}
            }
        }
    }

    /// Removes streams (`"*"` for all).
    pub fn remove<S: AsRef<str>>(&mut self, streams: &[S]) {
        for name in streams {
            match name.as_ref() {
                "*" => {
                    self.all = false;
                    self.names.clear();
                }
                n => {
                    if self.all {
                        self.all = false;
                        self.names = StreamName::ALL
                            .iter()
                            .map(|s| s.as_str().to_owned())
                            .collect();
                    }
                    self.names.remove(n);
                }
            }
        }
    }

    /// Whether `stream` is wanted.
    pub fn contains(&self, stream: StreamName) -> bool {
        self.all || self.names.contains(stream.as_str())
    }

    /// Whether nothing is wanted.
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty()
    }

    /// The list for `hello.subscribe`.
    pub fn to_list(&self) -> Vec<String> {
        if self.all {
            vec!["*".to_owned()]
        } else {
            self.names.iter().cloned().collect()
        }
    }

    /// The catalogue streams a list names (`"*"` is every stream).
    pub fn streams_in<S: AsRef<str>>(list: &[S]) -> Vec<StreamName> {
        if list.iter().any(|s| s.as_ref() == "*") {
            return StreamName::ALL.to_vec();
        }
        list.iter()
            .filter_map(|s| StreamName::parse(s.as_ref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_remove_and_star() {
        let mut s = Subscriptions::new(&["frames", "sprites"]);
        assert_eq!(s.to_list(), ["frames", "sprites"]);
        s.add(&["sounds"]);
        s.remove(&["frames"]);
        assert_eq!(s.to_list(), ["sounds", "sprites"]);
        s.add(&["*"]);
        assert_eq!(s.to_list(), ["*"]);
        assert!(s.contains(StreamName::Pixels));
        s.remove(&["pixels"]);
        assert!(!s.contains(StreamName::Pixels));
        assert!(s.contains(StreamName::Frames));
        assert_eq!(s.to_list().len(), StreamName::ALL.len() - 1);
        s.remove(&["*"]);
        assert!(s.is_empty());
        assert_eq!(
            Subscriptions::streams_in(&["sprites", "nope"]),
            [StreamName::Sprites]
        );
        assert_eq!(
            Subscriptions::streams_in(&["*"]).len(),
            StreamName::ALL.len()
        );
    }
}
