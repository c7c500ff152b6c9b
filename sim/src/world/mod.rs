//! The simulated world a design runs in: the network and its connections, the hosts' CPUs,
//! and the servers the shop talks to — database, session store, broker cluster, mail
//! provider, load balancer — each with the port implementation the shop uses against it.
//!
//! Every server here keeps its state outside its madsim node (a database's rows, a broker's
//! logs), as a real one keeps its disk: a restarted node finds it. What belongs to one life of
//! a process (connections, tasks) is made anew at each start.
//!
//! Must not: know which design uses what (that is `deployment`), or record metrics and
//! judge (that is `metrics` and `judge`). The shop's logic is `scalelab_system`'s.

pub mod broker;
pub mod db;
pub mod deadline;
pub mod host;
pub mod lb;
pub mod mail;
pub mod net;
pub mod node;
pub mod rpc;
pub mod sessions;
