//! A simulated machine as the rest of the simulator names it: madsim's node id and the name it
//! was given (madsim's handle does not give names back).
//!
//! Must not: hold what runs on the node or its state.

use madsim::task::NodeId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: NodeId,
    pub name: String,
}

impl Node {
    pub fn new(id: NodeId, name: impl Into<String>) -> Node {
        Node {
            id,
            name: name.into(),
        }
    }
}
