//! The start panel: what a plain visit (a URL without keys, [`crate::page::skips_start`]) opens on,
//! above the page. It leads a teacher in: the lessons as cards (title, the question the lesson
//! asks, its length in steps and, once training runs, about how long it takes on this device), and
//! two other ways in: explore freely (closes the panel) or compare two settings (compare mode). The
//! default model trains below it meanwhile, which is what measures the speed the cards quote. A
//! deep link (any key) skips the panel.
use crate::page::{lesson_length, StartLesson};
use leptos::prelude::*;

/// The start panel; hidden once `shown` is false.
#[component]
pub fn StartPanel(
    /// Whether the panel is shown (a plain visit, until the teacher picks a way in).
    #[prop(into)]
    shown: Signal<bool>,
    /// The lessons offered, in teaching order ([`crate::page::start_lessons`]).
    lessons: Vec<StartLesson>,
    /// The page's training speed in steps/s (0 while unknown): the cards' duration estimate.
    #[prop(into)]
    rate: Signal<f32>,
    /// A lesson's card (`start-lesson-ID`): start that lesson.
    #[prop(into)]
    on_lesson: Callback<&'static str>,
    /// "Explore freely" (`start-explore`): close the panel, training goes on as it is.
    #[prop(into)]
    on_explore: Callback<()>,
    /// "Compare two settings" (`start-compare`): compare mode on, the panel closed.
    #[prop(into)]
    on_compare: Callback<()>,
) -> impl IntoView {
    let cards = lessons
        .into_iter()
        .map(|lesson| view! { <LessonCard lesson=lesson rate=rate on_start=on_lesson /> })
        .collect_view();
    let click = |f: Callback<()>| {
        move |ev: web_sys::MouseEvent| {
            super::web::blur_target(&ev);
            f.run(())
        }
    };
    view! {
        <section class="start" data-testid="start" aria-labelledby="start-title" prop:hidden=move || !shown.get()>
            <div class="start-head">
                <div>
                    <h2 id="start-title">"Where would you like to start?"</h2>
                    <p class="start-lead">
                        "A small mixture-of-experts model is already learning below: a router sends each piece of \
                         text to one of 8 small networks, the experts. A lesson shows one idea from the \
                         research with two models side by side, step by step, and pauses for questions to your \
                         class."
                    </p>
                </div>
                <div class="start-ways">
                    <button class="primary" data-testid="start-explore" on:click=click(on_explore)>"Explore freely"</button>
                    <button data-testid="start-compare" on:click=click(on_compare)>"Compare two settings"</button>
                </div>
            </div>
            <ul class="start-lessons" aria-label="lessons">{cards}</ul>
        </section>
    }
}

/// One lesson's card: a button with its title, its question and its length.
#[component]
fn LessonCard(
    /// The lesson.
    lesson: StartLesson,
    /// The page's training speed in steps/s (0 while unknown).
    rate: Signal<f32>,
    /// Starts the lesson (its id).
    on_start: Callback<&'static str>,
) -> impl IntoView {
    let StartLesson { id, title, teaser, steps, questions } = lesson;
    let pauses = match questions {
        0 => String::new(),
        1 => " · 1 question for the class".into(),
        n => format!(" · {n} questions for the class"),
    };
    view! {
        <li>
            <button class="start-lesson" data-testid=format!("start-lesson-{id}") data-lesson=id
                on:click=move |ev| { super::web::blur_target(&ev); on_start.run(id) }>
                <span class="start-lesson-title">{title}</span>
                <span class="start-lesson-teaser">{teaser}</span>
                <span class="start-lesson-length">{move || lesson_length(steps, rate.get())}{pauses.clone()}</span>
            </button>
        </li>
    }
}
