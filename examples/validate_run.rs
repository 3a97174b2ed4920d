//! The validation figures of a run's saved model at every count noise, as training computes them.
//!
//!     cargo run --release --example validate_run -- RUN_FOLDER
//!
//! Works on a copy of the run: it is opened as `scgan train --resume` opens it (which truncates the log to the
//! checkpoint and rewrites config.json).
use scgan::train::{run::load_model, setup, validation::Validator};

fn main() -> anyhow::Result<()> {
    let folder = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("give a run folder"))?;
    let mut session = setup::resume(std::path::Path::new(&folder), |_| {})?;
    let saved = load_model(&session.run, session.model.as_mut())?;
    let config = session.model.config().clone();
    let validator = Validator::new(
        &session.data.train,
        &session.data.validation,
        config.latent_dim,
        config.library_size,
        &session.config.train,
    )?;
    for figure in validator.score_each_noise(session.model.as_mut()) {
        println!(
            "{folder}\tstep {}\tcount noise {:.2}\tkNN AUROC {:.4}\tMMD {:.5}",
            saved.step, figure.count_noise, figure.knn_auroc, figure.mmd
        );
    }
    Ok(())
}
