//! The caption band of a lesson: one band above the charts with the lesson's title, the caption of
//! the current beat, a question for the class, where the lesson is ("beat 2 of 4") and buttons to
//! go back, play and go on; while the lesson waits for the teacher, "Paused — press space or ▶ to
//! continue" in large type; at its end, a line about run A where a class will ask about it, the
//! verdict (its headline first, the checks behind "how this was checked"), "next lesson" and
//! "explore from here". The lesson player fills its signals ([`Caption`]); `?debug=caption`
//! fills them with [`SAMPLE_BEATS`] to show the band without a lesson.
use crate::cards::CardId;
use crate::session::Verdict;
use leptos::prelude::*;

/// What the caption band shows, as signals the lesson player writes (all empty: no band).
#[derive(Clone, Copy)]
pub struct Caption {
    /// The lesson's title and source ("Collapse — after Shazeer et al. 2017").
    pub title: RwSignal<String>,
    /// The caption of the current beat ("" hides the band).
    pub text: RwSignal<String>,
    /// A question for the class, if the beat asks one.
    pub question: RwSignal<Option<String>>,
    /// Where the lesson is ("beat 2 of 4").
    pub progress: RwSignal<String>,
    /// At a lesson's end: its claim checked on the runs just trained (a headline, then ✓ or ✗ per
    /// check).
    pub verdict: RwSignal<Option<Verdict>>,
    /// At a lesson's end: why run A shows what a student would ask about.
    pub about_a: RwSignal<Option<String>>,
    /// A beat has ended and the lesson waits for the teacher: the line shown large.
    pub paused: RwSignal<Option<String>>,
    /// At the lesson's end: the next-lesson button's label (None: not at the end).
    pub next_lesson: RwSignal<Option<String>>,
}

impl Default for Caption {
    /// An empty caption (the band is hidden).
    fn default() -> Caption {
        Caption {
            title: RwSignal::new(String::new()),
            text: RwSignal::new(String::new()),
            question: RwSignal::new(None),
            progress: RwSignal::new(String::new()),
            verdict: RwSignal::new(None),
            about_a: RwSignal::new(None),
            paused: RwSignal::new(None),
            next_lesson: RwSignal::new(None),
        }
    }
}

/// One beat of the sample lesson of `?debug=caption`: (caption, question, the card to highlight).
pub type SampleBeat = (&'static str, Option<&'static str>, CardId);

/// The sample lesson's title.
pub const SAMPLE_TITLE: &str = "Sample lesson: how a router learns (a demonstration of the caption band)";

/// The sample lesson of `?debug=caption`.
pub const SAMPLE_BEATS: [SampleBeat; 4] = [
    (
        "Each row of the routing chart is one input; each column is one expert. The outlined cell is the expert the \
         router picked for that input.",
        None,
        CardId::Heatmap,
    ),
    (
        "The blue bars count how many inputs each expert took in the last step. The green line is a fair share: what \
         each expert would get if the router spread the work evenly.",
        Some("Which expert is doing the most work right now? Is that fair?"),
        CardId::Load,
    ),
    (
        "The blue line is the model's error on what it is learning from. It falls as the experts get better at their \
         share of the work.",
        Some("What do you expect the line to do if we make the experts smaller?"),
        CardId::Losses,
    ),
    (
        "That was the tour: routing, load and loss. Now change a setting and watch all three react.",
        None,
        CardId::Heatmap,
    ),
];

/// The caption band: a title line, the caption in large type, a question for the class (prominent,
/// on a pale yellow), the progress and three buttons (back, play, next); while the lesson waits,
/// the paused line in large type; at its end, the verdict and the buttons "next lesson" and
/// "explore from here" (play and next are then off: training stays stopped). Hidden while `text`
/// is empty.
#[component]
pub fn CaptionBand(
    /// The lesson's title and its source, on the band's first line.
    #[prop(into)]
    title: Signal<String>,
    /// The caption of the current beat; the band is hidden while it is empty.
    #[prop(into)]
    text: Signal<String>,
    /// A question for the class, shown prominently under the caption when there is one.
    #[prop(into)]
    question: Signal<Option<String>>,
    /// Where the lesson is ("beat 2 of 4"), beside the buttons.
    #[prop(into)]
    progress: Signal<String>,
    /// The back button (`beat-prev`): the previous beat.
    #[prop(into)]
    on_prev: Callback<()>,
    /// The play button (`beat-play`): play (or pause) the current beat.
    #[prop(into)]
    on_play: Callback<()>,
    /// The next button (`beat-next`): the next beat.
    #[prop(into)]
    on_next: Callback<()>,
    /// Whether the beat is playing (the play button then reads "pause"); false if not given.
    #[prop(optional, into)]
    playing: Signal<bool>,
    /// At a lesson's end, its claim checked on the runs (shown under the caption); none if not given.
    #[prop(optional, into)]
    verdict: Signal<Option<Verdict>>,
    /// At a lesson's end, why run A shows what a student would ask about (its own line under the
    /// caption); none if not given.
    #[prop(optional, into)]
    about_a: Signal<Option<String>>,
    /// While the lesson waits for the teacher: "Paused — press space or ▶ to continue" (or, at the
    /// end, where training stopped), in large type; none if not given.
    #[prop(optional, into)]
    paused: Signal<Option<String>>,
    /// At the lesson's end: the label of the next-lesson button (`lesson-next`); the band then
    /// also shows "explore from here" (`lesson-explore`). None if not given: no such buttons.
    #[prop(optional, into)]
    next_lesson: Signal<Option<String>>,
    /// The next-lesson button: starts the next lesson.
    #[prop(optional, into)]
    on_next_lesson: Option<Callback<()>>,
    /// The explore button: leaves the lesson, keeping the runs, to train on freely.
    #[prop(optional, into)]
    on_explore: Option<Callback<()>>,
) -> impl IntoView {
    let ended = move || next_lesson.with(Option::is_some);
    view! {
        <section class="caption-band" data-testid="caption" aria-label="lesson" aria-live="polite"
            prop:hidden=move || text.with(String::is_empty)>
            <div class="band-head">
                <p class="band-title" data-testid="caption-title" prop:hidden=move || title.with(String::is_empty)>
                    {move || title.get()}
                </p>
                <div class="band-nav">
                    <span class="band-progress" data-testid="beat-progress">{move || progress.get()}</span>
                    <button data-testid="beat-prev" on:click=move |ev| { super::web::blur_target(&ev); on_prev.run(()) }>"◀ back"</button>
                    <button class="primary" data-testid="beat-play" aria-pressed=move || playing.get().to_string()
                        prop:disabled=ended on:click=move |ev| { super::web::blur_target(&ev); on_play.run(()) }>
                        {move || if playing.get() { "❚❚ pause" } else { "▶ play" }}
                    </button>
                    <button data-testid="beat-next" prop:disabled=ended
                        on:click=move |ev| { super::web::blur_target(&ev); on_next.run(()) }>"next ▶"</button>
                </div>
            </div>
            <Show when=move || paused.with(Option::is_some)>
                <p class="band-paused" data-testid="beat-paused" role="status">{move || paused.get()}</p>
            </Show>
            <p class="band-text" data-testid="caption-text">{move || text.get()}</p>
            <Show when=move || question.with(Option::is_some)>
                <p class="band-question" data-testid="caption-question">
                    <span class="band-q-label">"Ask the class: "</span>{move || question.get()}
                </p>
            </Show>
            <Show when=move || about_a.with(Option::is_some)>
                <p class="band-about-a" data-testid="caption-about-a">
                    <span class="band-q-label">"About run A: "</span>{move || about_a.get()}
                </p>
            </Show>
            {move || verdict.get().map(|v| view! { <VerdictView verdict=v /> })}
            <Show when=ended>
                <LessonEnd label=next_lesson on_next_lesson=on_next_lesson on_explore=on_explore />
            </Show>
        </section>
    }
}

/// A lesson's verdict (`caption-verdict`, its finding as `data-verdict`): the headline in large
/// type, what did not show (or why it was not checked) under it, and behind "how this was checked" (closed) each check with its thresholds
/// (`verdict-checks`) and the note on the CPU's batch.
#[component]
fn VerdictView(
    /// The verdict to show.
    verdict: Verdict,
) -> impl IntoView {
    let Verdict { finding, headline, detail, checks, note } = verdict;
    view! {
        <div class="band-verdict" data-testid="caption-verdict" data-verdict=finding.name()>
            <p class="verdict-headline" data-testid="verdict-headline">{headline}</p>
            {detail.map(|d| view! { <p class="verdict-detail" data-testid="verdict-detail">{d}</p> })}
            <details class="verdict-how">
                <summary>"how this was checked"</summary>
                <p>"The claim, checked on these two runs:"</p>
                <ul data-testid="verdict-checks">{checks.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul>
                {note.map(|n| view! { <p class="verdict-note">{n}</p> })}
            </details>
        </div>
    }
}

/// The end of a lesson's choices: the next lesson (`lesson-next`) or explore from here
/// (`lesson-explore`).
#[component]
fn LessonEnd(
    /// The next-lesson button's label ("next lesson: … ▶").
    label: Signal<Option<String>>,
    /// Starts the next lesson.
    on_next_lesson: Option<Callback<()>>,
    /// Leaves the lesson, keeping the runs.
    on_explore: Option<Callback<()>>,
) -> impl IntoView {
    let run = |cb: Option<Callback<()>>| {
        move |ev: leptos::ev::MouseEvent| {
            super::web::blur_target(&ev);
            if let Some(cb) = cb {
                cb.run(())
            }
        }
    };
    view! {
        <div class="band-end">
            <button class="primary" data-testid="lesson-next" on:click=run(on_next_lesson)>{move || label.get()}</button>
            <button data-testid="lesson-explore" title="leave the lesson; both runs and their settings stay, ▶ trains on"
                on:click=run(on_explore)>"explore from here"</button>
        </div>
    }
}
