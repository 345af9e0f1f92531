//! The chart cards, in one table ([`CARDS`]): each card's id ([`CardId`], written in the page as
//! `data-card`), title, caption, notes and canvases ([`Plot`]: what each draws, [`Chart`]). The
//! page lays the cards out from it in its order, lessons name the cards they show and highlight by
//! [`CardId`], and the session's messages carry a card as its `data-card` name, looked up here on
//! arrival ([`CardId::from_name`]).
use crate::config::{Dataset, RouterInfo};

/// A chart card. The variants are in page order, [`CARDS`]' order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardId {
    RegionMap,
    Heatmap,
    Load,
    Balance,
    Losses,
    Logits,
    Domains,
    Similarity,
    Drops,
}

impl CardId {
    /// Every card, in page order.
    pub const ALL: [CardId; 9] = [
        CardId::RegionMap,
        CardId::Heatmap,
        CardId::Load,
        CardId::Balance,
        CardId::Losses,
        CardId::Logits,
        CardId::Domains,
        CardId::Similarity,
        CardId::Drops,
    ];

    /// The card's row of [`CARDS`].
    pub fn card(self) -> &'static Card {
        &CARDS[self as usize]
    }

    /// Its name: the page's `data-card`, and what the session's messages carry.
    pub fn name(self) -> &'static str {
        self.card().name
    }

    /// The card named `name` (`data-card`), if any.
    pub fn from_name(name: &str) -> Option<CardId> {
        CARDS.iter().find(|c| c.name == name).map(|c| c.id)
    }
}

impl std::fmt::Display for CardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a canvas draws. Run B's canvases (`…B`) are shown in compare mode only, beside run A's,
/// each labelled with what differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Chart {
    /// The region map of the `regions` data set (run A's).
    RegionMap,
    /// The routing heatmap of probe tokens, from a run's latest snapshot.
    Routing,
    RoutingB,
    /// Kept and dropped assignments per expert, from a run's latest snapshot.
    Load,
    LoadB,
    /// Domains × experts, from a run's latest snapshot.
    Domains,
    DomainsB,
    /// The time charts, over the history (both runs overlaid in compare mode).
    Losses,
    Balance,
    Logits,
    Similarity,
    Drops,
    /// Drop share against the capacity factor, from run A's latest snapshot.
    DropCurve,
}

impl Chart {
    /// How many charts there are (`chart as usize` is below it).
    pub const COUNT: usize = 13;

    /// Run B's canvas: labelled, and shown in compare mode only.
    pub fn run_b(self) -> bool {
        matches!(self, Chart::RoutingB | Chart::LoadB | Chart::DomainsB)
    }

    /// Run A's canvas of a pair with run B's: labelled with what differs.
    pub fn run_a(self) -> bool {
        matches!(self, Chart::Routing | Chart::Load | Chart::Domains)
    }

    /// What it draws from.
    pub fn source(self) -> Source {
        match self {
            Chart::RegionMap => Source::Map,
            Chart::Routing
            | Chart::RoutingB
            | Chart::Load
            | Chart::LoadB
            | Chart::Domains
            | Chart::DomainsB
            | Chart::DropCurve => Source::Snapshot,
            Chart::Losses | Chart::Balance | Chart::Logits | Chart::Similarity | Chart::Drops => Source::History,
        }
    }
}

/// What a chart draws from; until it has some, its card shows the card's placeholder
/// ([`Card::waiting`]) over the canvases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The latest snapshot (the first arrives as training starts).
    Snapshot,
    /// The history of trained steps (its first point after the first steps).
    History,
    /// The region map (computed every 2 s).
    Map,
}

/// One canvas of a card, with its PNG button.
#[derive(Clone, Copy, Debug)]
pub struct Plot {
    /// What it draws.
    pub chart: Chart,
    /// Its `data-testid`.
    pub testid: &'static str,
    /// The drawing buffer's size until the first draw fits it to the layout (width, height).
    pub size: (u32, u32),
    /// The PNG's file name is `moe-{file}-step{N}.png`.
    pub file: &'static str,
    /// The PNG button's tooltip.
    pub tooltip: &'static str,
    /// The PNG button's label.
    pub button: &'static str,
}

const fn plot(chart: Chart, testid: &'static str, size: (u32, u32), file: &'static str, tooltip: &'static str) -> Plot {
    Plot { chart, testid, size, file, tooltip, button: "PNG" }
}

const fn plot_b(
    chart: Chart,
    testid: &'static str,
    size: (u32, u32),
    file: &'static str,
    tooltip: &'static str,
) -> Plot {
    Plot { chart, testid, size, file, tooltip, button: "PNG B" }
}

/// A card's layout beside its neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Normal,
    /// Spans the whole row.
    Wide,
    /// Spans two rows.
    Tall,
}

/// A note under a card's caption that depends on the selected router (hidden when it has none).
#[derive(Clone, Copy, Debug)]
pub struct RouterNote {
    /// The note's `data-testid`.
    pub testid: &'static str,
    /// The router's note for this card ("" = none).
    pub text: fn(&RouterInfo) -> &'static str,
}

/// One chart card.
#[derive(Clone, Copy, Debug)]
pub struct Card {
    pub id: CardId,
    /// `data-card`.
    pub name: &'static str,
    /// The heading.
    pub title: &'static str,
    /// What the chart shows, in a sentence or three under it.
    pub caption: &'static str,
    /// Over the canvases until the chart has something to draw (the trainer starting, or
    /// restarting): what is coming, in a line.
    pub waiting: &'static str,
    pub layout: Layout,
    /// Its canvases: one, or two side by side.
    pub plots: &'static [Plot],
    /// Shown only for this data set.
    pub only_for: Option<Dataset>,
    /// Under the caption: the selected router's note.
    pub router_note: Option<RouterNote>,
    /// Under that, in compare mode: what the card shows of the two runs.
    pub compare_note: Option<&'static str>,
}

impl Card {
    /// In compare mode the card spans the whole row (it shows run B's canvases beside A's).
    pub fn wide_in_compare(&self) -> bool {
        self.plots.iter().any(|p| p.chart.run_b())
    }
}

/// The chart cards, in page order (row `i` is the card of `CardId::ALL[i]`).
pub const CARDS: [Card; 9] = [
    Card {
        id: CardId::RegionMap,
        name: "region-map",
        title: "Region map",
        caption: "The plane [−1, 1]² on a 40 × 40 grid, run through the current weights every 2 s. Left: the expert \
                  each point is routed to (paler = the router is less sure). Right: the class the model predicts \
                  (paler = closer to 50/50), with data points in their true class. Each quadrant has its own rule; \
                  watch whether the router learns to split the plane along them.",
        waiting: "Starting the model… the region map appears a few seconds into training, then is redrawn every 2 s.",
        layout: Layout::Wide,
        plots: &[plot(Chart::RegionMap, "region-map", (880, 490), "region-map", "download the region map as PNG")],
        only_for: Some(Dataset::Regions),
        router_note: None,
        compare_note: Some("Compare mode: this map is run A's."),
    },
    Card {
        id: CardId::Heatmap,
        name: "heatmap",
        title: "Routing of probe tokens",
        caption: "Fixed probe inputs (rows) × experts: colour = router probability; the chosen expert is outlined \
                  (red first, orange second); a cross marks an assignment dropped over capacity. The stripe shows \
                  the input's domain.",
        waiting: "Starting the model… the routing of the probe tokens appears with the first steps.",
        layout: Layout::Tall,
        plots: &[
            plot(Chart::Routing, "heatmap", (460, 570), "routing", "download the routing heatmap as PNG"),
            plot_b(Chart::RoutingB, "heatmap-b", (460, 570), "routing-b", "download run B's routing heatmap as PNG"),
        ],
        only_for: None,
        router_note: Some(RouterNote { testid: "routing-note", text: |r| r.routing_note }),
        compare_note: Some(
            "Compare mode: the heatmap marked A is run A's, the one marked B is run B's, on the same probe inputs \
             and the same colour scale. Where B's colours or outlines differ, the changed knob made its router \
             decide differently.",
        ),
    },
    Card {
        id: CardId::Load,
        name: "load",
        title: "Expert load",
        caption: "Assignments per expert per step: blue is kept, orange is dropped over capacity; the black line is \
                  the capacity C, the green line a fair share T·k/E.",
        waiting: "Starting the model… each expert's load appears with the first steps.",
        layout: Layout::Normal,
        plots: &[
            plot(Chart::Load, "load", (460, 250), "load", "download the load chart as PNG"),
            plot_b(Chart::LoadB, "load-b", (460, 250), "load-b", "download run B's load chart as PNG"),
        ],
        only_for: None,
        router_note: Some(RouterNote { testid: "load-note", text: |r| r.load_note }),
        compare_note: Some(
            "Compare mode: the chart marked A is run A's, the one marked B is run B's. Both use the same scale, so \
             equal heights mean equal load. Compare how evenly each spreads its tokens over the experts.",
        ),
    },
    Card {
        id: CardId::Balance,
        name: "balance",
        title: "Balance",
        caption: "The busiest expert's share of tokens and the normalised entropy of the load (1 = even). Dashed \
                  lines mark knob changes.",
        waiting: "Starting the model… the balance lines begin with the first steps.",
        layout: Layout::Normal,
        plots: &[plot(Chart::Balance, "balance", (460, 230), "balance", "download the balance chart as PNG")],
        only_for: None,
        router_note: None,
        compare_note: Some(
            "Compare mode: the busiest expert's share in run A (blue) and run B (orange). The higher line is the \
             run whose router leans on fewer experts.",
        ),
    },
    Card {
        id: CardId::Losses,
        name: "losses",
        title: "Losses",
        caption: "Cross-entropy on the batches being trained on (blue) and on the held-out examples the model never \
                  trains on (black, measured every few hundred steps; the gap is what it memorised rather than \
                  learned). The balance loss aux is 1 for a perfectly even load; it is trained only with the \
                  balance loss on. The router z-loss joins when β > 0.",
        waiting: "Starting the model… the loss curves begin with the first steps.",
        layout: Layout::Normal,
        plots: &[plot(Chart::Losses, "losses", (460, 230), "losses", "download the loss chart as PNG")],
        only_for: None,
        router_note: None,
        compare_note: Some(
            "Compare mode: run A in blue, run B in orange; solid lines are the training batches, dashed lines the \
             held-out examples. The balance and z-losses are left out to keep the two runs readable.",
        ),
    },
    Card {
        id: CardId::Logits,
        name: "logits",
        title: "Router logits",
        caption: "How large the router's scores (logits) are: the root mean square, over the batch, of \
                  logsumexp(logits). Large logits make the softmax all-or-nothing and its rounding errors large; \
                  the router z-loss (β > 0) keeps them small.",
        waiting: "Starting the model… the size of the router's logits is plotted from the first steps.",
        layout: Layout::Normal,
        plots: &[plot(Chart::Logits, "logits", (460, 230), "logits", "download the router logits chart as PNG")],
        only_for: None,
        router_note: None,
        compare_note: Some("Compare mode: run A in blue, run B in orange."),
    },
    Card {
        id: CardId::Domains,
        name: "domains",
        title: "Domains × experts",
        caption: "Each row is one domain's share of choices per expert. Specialisation shows as one bright cell per \
                  row.",
        waiting: "Starting the model… each domain's choice of experts appears with the first steps.",
        layout: Layout::Normal,
        plots: &[
            plot(Chart::Domains, "domains", (460, 174), "domains", "download the domain matrix as PNG"),
            plot_b(Chart::DomainsB, "domains-b", (460, 174), "domains-b", "download run B's domain matrix as PNG"),
        ],
        only_for: None,
        router_note: None,
        compare_note: Some(
            "Compare mode: the matrix marked A is run A's, the one marked B is run B's, coloured on the same scale.",
        ),
    },
    Card {
        id: CardId::Similarity,
        name: "similarity",
        title: "Expert similarity",
        caption: "How alike the experts are: the mean cosine similarity, over every pair of experts, of their \
                  weights (W1, b1, W2, b2 as one vector). Random experts sit near 0; upcycled ones start at 1 and \
                  drift apart as they specialise.",
        waiting: "Starting the model… how alike the experts are is plotted from the first steps.",
        layout: Layout::Normal,
        plots: &[plot(
            Chart::Similarity,
            "similarity",
            (460, 230),
            "similarity",
            "download the expert similarity chart as PNG",
        )],
        only_for: None,
        router_note: None,
        compare_note: Some("Compare mode: run A in blue, run B in orange."),
    },
    Card {
        id: CardId::Drops,
        name: "drops",
        title: "Dropped tokens",
        caption: "The first chart: the share of assignments dropped because their expert was full (they skip the \
                  expert and ride the residual stream) over training. The second: the share that would be dropped \
                  at each capacity factor for the router's current load, against an evenly balanced router; the \
                  dot is the current cf.",
        waiting: "Starting the model… the dropped tokens are plotted from the first steps.",
        layout: Layout::Wide,
        plots: &[
            plot(Chart::Drops, "drops", (440, 220), "drops", "download the drops-over-time chart as PNG"),
            Plot {
                button: "PNG ·cf",
                ..plot(
                    Chart::DropCurve,
                    "drops-cf",
                    (440, 220),
                    "drops-vs-cf",
                    "download the drops-vs-capacity chart as PNG",
                )
            },
        ],
        only_for: None,
        router_note: Some(RouterNote { testid: "drops-note", text: |r| r.drops_note }),
        compare_note: Some(
            "Compare mode: the chart over training shows the share of assignments dropped in run A (blue) and run \
             B (orange); the curve against the capacity factor is run A's.",
        ),
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_table_is_in_card_order_with_unique_names_and_canvases() {
        let mut names = HashSet::new();
        let mut testids = HashSet::new();
        let mut files = HashSet::new();
        let mut charts = HashSet::new();
        for (i, (id, card)) in CardId::ALL.iter().zip(&CARDS).enumerate() {
            assert_eq!(card.id, *id, "row {i}");
            assert_eq!(*id as usize, i);
            assert!(names.insert(card.name), "duplicate card name {}", card.name);
            assert_eq!(CardId::from_name(card.name), Some(*id));
            assert!((1..=2).contains(&card.plots.len()), "{}", card.name);
            for p in card.plots {
                assert!(testids.insert(p.testid), "duplicate testid {}", p.testid);
                assert!(files.insert(p.file), "duplicate file {}", p.file);
                assert!(charts.insert(p.chart), "chart {:?} twice", p.chart);
                assert!((p.chart as usize) < Chart::COUNT);
            }
        }
        assert_eq!(charts.len(), Chart::COUNT, "every chart is on a card");
        assert_eq!(CardId::from_name("nonsense"), None);
        for card in &CARDS {
            assert!(card.waiting.starts_with("Starting the model…") && card.waiting.len() < 110, "{}", card.name);
        }
        assert_eq!(CardId::RegionMap.card().plots[0].chart.source(), Source::Map);
        assert_eq!(Chart::Losses.source(), Source::History);
        assert_eq!(Chart::RoutingB.source(), Source::Snapshot);
        // The names the page's end-to-end tests select (`data-card`).
        let page = ["region-map", "heatmap", "load", "balance", "losses", "logits", "domains", "similarity", "drops"];
        assert_eq!(CARDS.map(|c| c.name), page);
    }
}
