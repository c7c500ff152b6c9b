//! The live view's keys, as data: the key handler, the footer's hints and the `?` help are
//! all read from this one table, so they cannot disagree.
//!
//! Also owns which fault each key injects (with its parameters), so that the help can say
//! exactly what a key does. Must not: act on anything (the app does).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use scalelab_sim::scenario::fault::{Fault, Role};
use scalelab_sim::scenario::{Positive, Probability};
use scalelab_sim::Design;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Quit,
    Pause,
    Step,
    Faster,
    Slower,
    /// Opens the menu of roles to kill.
    Kill,
    /// Opens the menu of how far to jump ahead.
    Jump,
    /// Hides or shows the end-of-run scoreboard.
    Scoreboard,
    /// Switches the charts between the last minute or so and the whole run so far.
    WholeDay,
    /// Opens the legend: symbols, colours, units.
    Legend,
    /// Opens the menu of a fault (its parameters, the defaults one key away), which injects
    /// it into every design at the next tick.
    Inject(LiveFault),
    HealAll,
    Save,
    /// Marks this moment (a, b, c, ...): drawn on the whole-run charts, kept by the repro.
    Mark,
    /// Enlarges the next design (Tab), or design N (1-4; again to go back).
    NextPane,
    Enlarge(usize),
    Help,
}

/// The faults that have a key of their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LiveFault {
    BrokerOutage,
    HotShard,
    Partition,
    MailOutage,
}

impl LiveFault {
    fn name(self) -> &'static str {
        match self {
            LiveFault::BrokerOutage => "broker outage",
            LiveFault::HotShard => "hot shard",
            LiveFault::Partition => "partition",
            LiveFault::MailOutage => "mail outage",
        }
    }
}

/// What a menu's `t` aims at next: every design, then each in turn, then every design again.
pub fn next_target(only: Option<Design>) -> Option<Design> {
    match only.and_then(|d| Design::ALL.iter().position(|&x| x == d)) {
        None => Design::ALL.first().copied(),
        Some(i) => Design::ALL.get(i + 1).copied(),
    }
}

/// A target as a menu shows it.
pub fn target_name(only: Option<Design>) -> String {
    only.map_or("every design".to_owned(), |d| format!("{} only", d.name()))
}

/// The durations a fault menu's `d` steps through, in seconds.
pub const DURATIONS_S: [f64; 6] = [15.0, 30.0, 60.0, 120.0, 300.0, 600.0];
/// The shares of new shoppers a hot-shard menu's `s` steps through.
pub const SHARES: [f64; 4] = [0.25, 0.5, 0.75, 0.9];

/// A fault being set up in its menu: the defaults first, Enter injects it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultDraft {
    pub kind: LiveFault,
    pub duration_s: f64,
    /// Hot shard only: which shard, and the share of new shoppers sent to it.
    pub shard: u32,
    pub share: f64,
    /// The one design it is aimed at (`t` steps through them), or every design.
    pub only: Option<Design>,
}

impl FaultDraft {
    /// The fault with the defaults the help states.
    pub fn new(kind: LiveFault) -> FaultDraft {
        let duration_s = match kind {
            LiveFault::BrokerOutage => 60.0,
            LiveFault::HotShard | LiveFault::MailOutage => 120.0,
            LiveFault::Partition => 30.0,
        };
        FaultDraft {
            kind,
            duration_s,
            shard: 0,
            share: 0.5,
            only: None,
        }
    }

    pub fn fault(self) -> Fault {
        let duration_s = Positive(self.duration_s);
        match self.kind {
            LiveFault::BrokerOutage => Fault::BrokerOutage {
                leader_only: false,
                duration_s,
            },
            LiveFault::HotShard => Fault::HotShard {
                shard: self.shard,
                share: Probability(self.share),
                duration_s,
            },
            LiveFault::Partition => Fault::Partition {
                between: [Role::App, Role::Db],
                duration_s,
            },
            LiveFault::MailOutage => Fault::MailOutage { duration_s },
        }
    }

    /// A key pressed in the menu: `Some(true)` injects, `Some(false)` changed a parameter,
    /// `None` cancels. Shards are 0 to `shards - 1`.
    pub fn key(&mut self, code: KeyCode, shards: u32) -> Option<bool> {
        let next = |list: &[f64], now: f64| {
            let at = list.iter().position(|&v| v > now).unwrap_or(0);
            list[at]
        };
        match code {
            KeyCode::Enter => Some(true),
            KeyCode::Char('t') => {
                self.only = next_target(self.only);
                Some(false)
            }
            KeyCode::Char('d') => {
                self.duration_s = next(&DURATIONS_S, self.duration_s);
                Some(false)
            }
            KeyCode::Char('s') if self.kind == LiveFault::HotShard => {
                self.share = next(&SHARES, self.share);
                Some(false)
            }
            KeyCode::Char(c) if self.kind == LiveFault::HotShard => match c.to_digit(10) {
                Some(n) if n < shards.min(10) => {
                    self.shard = n;
                    Some(false)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The menu's title and its lines: (key, what it does, with the value now).
    pub fn menu(self, shards: u32) -> (String, Vec<(String, String)>) {
        let secs = |s: f64| format!("{s:.0} s");
        let what = match self.fault() {
            Fault::BrokerOutage { .. } => "the whole broker cluster down".to_owned(),
            Fault::HotShard { .. } => format!(
                "{:.0}% of new shoppers on shard {}",
                self.share * 100.0,
                self.shard
            ),
            Fault::Partition { .. } => "app tier cut off from the database".to_owned(),
            _ => "the mail provider refuses everything".to_owned(),
        };
        let mut lines = vec![
            (
                "Enter".to_owned(),
                format!("inject: {what}, {}", secs(self.duration_s)),
            ),
            (
                "t".to_owned(),
                format!("target: {}", target_name(self.only)),
            ),
            (
                "d".to_owned(),
                format!("duration: {} (15 s to 10 min)", secs(self.duration_s)),
            ),
        ];
        if self.kind == LiveFault::HotShard {
            lines.push((
                format!("0-{}", shards.clamp(1, 10) - 1),
                format!("shard: {}", self.shard),
            ));
            lines.push((
                "s".to_owned(),
                format!("share of new shoppers: {:.0}%", self.share * 100.0),
            ));
        }
        (format!(" {} ", self.kind.name()), lines)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Key {
    Char(char),
    Tab,
    Esc,
    CtrlC,
}

impl Key {
    fn matches(self, ev: &KeyEvent) -> bool {
        match self {
            Key::Char(c) => {
                ev.code == KeyCode::Char(c) && !ev.modifiers.contains(KeyModifiers::CONTROL)
            }
            Key::Tab => ev.code == KeyCode::Tab,
            Key::Esc => ev.code == KeyCode::Esc,
            Key::CtrlC => {
                ev.code == KeyCode::Char('c') && ev.modifiers.contains(KeyModifiers::CONTROL)
            }
        }
    }
}

pub struct Binding {
    pub keys: &'static [Key],
    /// The keys as the help shows them.
    pub shown: &'static str,
    /// A word or two for the footer; empty: not in the footer.
    pub hint: &'static str,
    pub help: &'static str,
    pub action: Action,
}

pub const KEYMAP: &[Binding] = &[
    Binding {
        keys: &[Key::Char(' ')],
        shown: "space",
        hint: "pause",
        help: "pause or resume",
        action: Action::Pause,
    },
    Binding {
        keys: &[Key::Char('.')],
        shown: ".",
        hint: "step",
        help: "run one tick, then pause",
        action: Action::Step,
    },
    Binding {
        keys: &[Key::Char('+'), Key::Char('=')],
        shown: "+",
        hint: "faster",
        help: "faster: 1x 2x 5x 10x 50x max",
        action: Action::Faster,
    },
    Binding {
        keys: &[Key::Char('-')],
        shown: "-",
        hint: "slower",
        help: "slower",
        action: Action::Slower,
    },
    Binding {
        keys: &[Key::Char('g')],
        shown: "g",
        hint: "",
        help: "go ahead 1, 5 or 10 minutes at full speed, then pause there",
        action: Action::Jump,
    },
    Binding {
        keys: &[Key::Char('k')],
        shown: "k",
        hint: "kill",
        help: "kill a role in every design (choose which; it stays down until r)",
        action: Action::Kill,
    },
    Binding {
        keys: &[Key::Char('b')],
        shown: "b",
        hint: "broker",
        help: "broker outage: the whole cluster, 60 s (Enter; t: one design; d: duration)",
        action: Action::Inject(LiveFault::BrokerOutage),
    },
    Binding {
        keys: &[Key::Char('h')],
        shown: "h",
        hint: "hot shard",
        help: "hot shard: half of new shoppers on shard 0, 120 s (Enter; t, d, shard, s)",
        action: Action::Inject(LiveFault::HotShard),
    },
    Binding {
        keys: &[Key::Char('p')],
        shown: "p",
        hint: "partition",
        help: "partition: app tier cut off from the database, 30 s (Enter; t, d)",
        action: Action::Inject(LiveFault::Partition),
    },
    Binding {
        keys: &[Key::Char('m')],
        shown: "m",
        hint: "mail",
        help: "mail outage: the provider refuses everything, 120 s (Enter; t, d)",
        action: Action::Inject(LiveFault::MailOutage),
    },
    Binding {
        keys: &[Key::Char('r')],
        shown: "r",
        hint: "heal",
        help: "heal everything: end every fault, restart every killed node",
        action: Action::HealAll,
    },
    Binding {
        keys: &[Key::Char('s')],
        shown: "s",
        hint: "save",
        help: "save a repro of the session so far, for scalelab replay",
        action: Action::Save,
    },
    Binding {
        keys: &[Key::Char('x')],
        shown: "x",
        hint: "",
        help: "mark this moment (a, b, c ...) on the whole-run charts and in the repro",
        action: Action::Mark,
    },
    Binding {
        keys: &[Key::Tab],
        shown: "Tab",
        hint: "enlarge",
        help: "enlarge the next design; after the last, back to all four",
        action: Action::NextPane,
    },
    Binding {
        keys: &[Key::Char('1')],
        shown: "1-4",
        hint: "",
        help: "enlarge design 1-4; the same key again goes back",
        action: Action::Enlarge(0),
    },
    Binding {
        keys: &[Key::Char('2')],
        shown: "",
        hint: "",
        help: "",
        action: Action::Enlarge(1),
    },
    Binding {
        keys: &[Key::Char('3')],
        shown: "",
        hint: "",
        help: "",
        action: Action::Enlarge(2),
    },
    Binding {
        keys: &[Key::Char('4')],
        shown: "",
        hint: "",
        help: "",
        action: Action::Enlarge(3),
    },
    Binding {
        keys: &[Key::Char('w')],
        shown: "w",
        hint: "",
        help: "charts: the whole run so far, faults marked ▲ (again: the last minute)",
        action: Action::WholeDay,
    },
    Binding {
        keys: &[Key::Char('t')],
        shown: "t",
        hint: "",
        help: "the day's totals per design, once the run has ended",
        action: Action::Scoreboard,
    },
    Binding {
        keys: &[Key::Char('l')],
        shown: "l",
        hint: "",
        help: "the legend: what each symbol, colour and figure means (any key closes it)",
        action: Action::Legend,
    },
    Binding {
        keys: &[Key::Char('?')],
        shown: "?",
        hint: "help",
        help: "this help (any key closes it)",
        action: Action::Help,
    },
    Binding {
        keys: &[Key::Char('q'), Key::Esc, Key::CtrlC],
        shown: "q Esc ^C",
        hint: "quit",
        help: "quit (q or Esc first closes a menu); the terminal is restored",
        action: Action::Quit,
    },
];

/// The action bound to a key press, if any. Key releases and repeats of other kinds are
/// ignored (some terminals report both press and release).
pub fn action_for(ev: &KeyEvent) -> Option<Action> {
    if ev.kind != KeyEventKind::Press {
        return None;
    }
    KEYMAP
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// The jump menu: a key and how many virtual seconds it jumps ahead.
pub const JUMPS: [(char, f64); 3] = [('1', 60.0), ('5', 300.0), ('0', 600.0)];

/// The roles the kill menu offers in a scenario with `shards` shards, with their keys.
pub fn kill_menu(shards: u32) -> Vec<(char, Role)> {
    let mut menu = vec![
        ('a', Role::App),
        ('s', Role::SessionStore),
        ('d', Role::Db),
        ('b', Role::Broker),
        ('w', Role::Worker),
        ('m', Role::Mail),
    ];
    for n in 0..shards.min(10) {
        if let Some(c) = char::from_digit(n, 10) {
            menu.push((c, Role::Shard(n)));
        }
    }
    menu
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn every_documented_key_reaches_its_action() {
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('3'), KeyModifiers::NONE)),
            Some(Action::Enlarge(2))
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Mark)
        );
        assert_eq!(
            action_for(&press(KeyCode::Char('z'), KeyModifiers::NONE)),
            None
        );
        // A plain `c` is not Ctrl-C.
        assert_eq!(
            action_for(&press(KeyCode::Char('c'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn no_key_is_bound_twice() {
        let keys: Vec<Key> = KEYMAP.iter().flat_map(|b| b.keys.iter().copied()).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k:?} is bound twice");
        }
    }

    #[test]
    fn the_kill_menu_offers_each_shard_of_a_sharded_scenario() {
        let menu = kill_menu(4);
        assert!(menu.contains(&('3', Role::Shard(3))));
        assert!(!menu.iter().any(|(_, r)| *r == Role::Shard(4)));
        let keys: Vec<char> = menu.iter().map(|(c, _)| *c).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{k} twice in the kill menu");
        }
    }
}
