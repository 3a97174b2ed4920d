//! The validation figures of a run's saved model at every count noise, as training computes them: the kNN AUROC,
//! the MMD² and the spread that chooses the noise (with the spread above which noise is added, and the noise
//! chosen).
//!
//!     cargo run --release --example validate_run -- RUN_FOLDER [SEED ...]
//!
//! With seeds, the figures are computed once per seed (other latent vectors, library sizes and rounding draws
//! than training's; same validation cells), to see how much of a difference between count noises is the
//! generated side's sampling noise. With `AGAINST=train` in the environment, the real side is 1,000 random
//! training cells instead of the validation cells (what the generator was trained on: a diagnosis only).
//!
//! Works on a copy of the run: it is opened as `scgan train --resume` opens it (which truncates the log to the
//! checkpoint and rewrites config.json).
use scgan::train::validation::{choose_count_noise, Validator};
use scgan::train::{run::load_model, setup};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let folder = args.next().ok_or_else(|| anyhow::anyhow!("give a run folder"))?;
    let seeds: Vec<u64> = args.map(|s| s.parse()).collect::<Result<_, _>>()?;
    let mut session = setup::resume(std::path::Path::new(&folder), |_| {})?;
    let saved = load_model(&session.run, session.model.as_mut())?;
    let config = session.model.config().clone();
    let training_seed = session.config.train.seed;
    let reference = if std::env::var("AGAINST").is_ok_and(|v| v == "train") {
        use rand::seq::SliceRandom;
        let train = &session.data.train;
        let mut rows: Vec<usize> = (0..train.len()).collect();
        rows.shuffle(&mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(training_seed));
        rows.truncate(1000);
        let labels = rows.iter().map(|&i| train.labels[i]).collect();
        scgan::train::data::CellSet::new(train.counts.select_rows(&rows), labels, config.library_size)
    } else {
        session.data.validation.clone()
    };
    for seed in if seeds.is_empty() { vec![training_seed] } else { seeds } {
        let mut params = session.config.train.clone();
        params.seed = seed;
        let validator =
            Validator::new(&session.data.train, &reference, config.latent_dim, config.library_size, &params)?;
        let figures = validator.score_each_noise(session.model.as_mut());
        let chosen = choose_count_noise(&figures, validator.spread_tolerance()).count_noise;
        for figure in figures {
            println!(
                "{folder}\tstep {}\tseed {seed}\tcount noise {:.2}\tkNN AUROC {:.4}\tMMD {:.5}\tspread {:.4} \
                 (noise when above {:.4}){}",
                saved.step,
                figure.count_noise,
                figure.knn_auroc,
                figure.mmd,
                figure.spread_ratio,
                1.0 + validator.spread_tolerance(),
                if figure.count_noise == chosen { "\tchosen" } else { "" }
            );
        }
    }
    Ok(())
}
