//! The library size as an input of the generator (`--library-input`): each generated cell's library size is
//! drawn first, from the real cells of its type, and the generator reads it, standardised within the type, in
//! the first coordinate of its latent vector; the cell's profile is then made into counts at that size, in
//! training, in validation and in `scgan generate` alike.
//!
//! Why: a real cell's normalised profile depends on its depth (a mouse_bladder cell of 150 counts shows ~60
//! genes, three in four of them at one count; one of 1,500 shows ~300, fewer than three in five at one count),
//! and a generator that does not know the size its profile will be counted at can only make a compromise. Without
//! the input, generation hands the drawn sizes out by the profiles' complexity instead. What it buys is measured
//! in BENCHMARKS.md (Session 15), as is what it does not fix: the fraction of genes at one count still differs
//! from real cells' at each depth. The first latent coordinate is used, rather than a new input, so that the
//! network and its parameters stay the paper's: the standardised log size is about standard normal, as the
//! coordinate it replaces.

/// Each class's mean and standard deviation of the log library sizes of its training cells, which standardise a
/// drawn library size for the generator. An unconditional generator does not see the class, so its sizes are
/// standardised over all cells: one pool, whatever class a cell is given.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryInput {
    log_mean: Vec<f64>,
    log_sd: Vec<f64>,
}

/// Standardised sizes beyond this are clipped (a latent coordinate rarely goes further).
const CLIP: f64 = 4.0;

impl LibraryInput {
    /// From the library sizes of every class's training cells (`pools[k]`), standardised within the class for a
    /// `conditional` generator and over the pools together otherwise.
    pub fn new(pools: &[&[f64]], conditional: bool) -> Self {
        let every_cell = pools.concat();
        let pools = if conditional { pools } else { &[every_cell.as_slice()][..] };
        let (mut log_mean, mut log_sd) = (Vec::with_capacity(pools.len()), Vec::with_capacity(pools.len()));
        for pool in pools {
            let logs: Vec<f64> = pool.iter().map(|size| size.max(1.0).ln()).collect();
            let n = logs.len().max(1) as f64;
            let mean = logs.iter().sum::<f64>() / n;
            let variance = logs.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            log_mean.push(mean);
            log_sd.push(variance.sqrt());
        }
        LibraryInput { log_mean, log_sd }
    }

    /// The generator's input for a cell of class `class` (clamped to the last; any class of an unconditional
    /// generator reads the one pool) and library size `size`: its log size standardised within the class, clipped
    /// to ±4; 0 for a class whose sizes do not vary.
    pub fn value(&self, class: usize, size: f64) -> f32 {
        let Some(last) = self.log_mean.len().checked_sub(1) else { return 0.0 };
        let k = class.min(last);
        if self.log_sd[k] <= 1e-9 {
            return 0.0;
        }
        ((size.max(1.0).ln() - self.log_mean[k]) / self.log_sd[k]).clamp(-CLIP, CLIP) as f32
    }

    /// Writes every cell's input into the first coordinate of its latent vector (`z`: one row of `latent` per
    /// cell, in the order of `classes` and `sizes`).
    pub fn write(&self, z: &mut [f32], latent: usize, classes: &[usize], sizes: &[f64]) {
        for ((row, &class), &size) in z.chunks_mut(latent).zip(classes).zip(sizes) {
            row[0] = self.value(class, size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_standardised_within_their_class() {
        let small = [100.0, 200.0, 400.0];
        let large = [1000.0, 1000.0];
        let input = LibraryInput::new(&[&small, &large, &[]], true);
        // ln 200 is the mean of ln 100, ln 200 and ln 400; their sd is ln 2 * sqrt(2 / 3)
        assert!(input.value(0, 200.0).abs() < 1e-6);
        let sd = 2f64.ln() * (2.0f64 / 3.0).sqrt();
        assert!((input.value(0, 400.0) as f64 - 2f64.ln() / sd).abs() < 1e-5);
        assert!(input.value(0, 1e9) == 4.0 && input.value(0, 1.0) == -4.0, "clipped");
        // a class whose sizes do not vary, an empty one, and a label beyond the classes
        assert_eq!(input.value(1, 5000.0), 0.0);
        assert_eq!(input.value(2, 5000.0), 0.0);
        assert_eq!(input.value(9, 5000.0), 0.0);
        assert_eq!(LibraryInput::new(&[], true).value(0, 10.0), 0.0);
        assert_eq!(LibraryInput::new(&[], false).value(0, 10.0), 0.0);
        let mut z = vec![9.0f32; 6];
        input.write(&mut z, 3, &[0, 0], &[200.0, 400.0]);
        assert_eq!((z[0], z[1], z[2]), (input.value(0, 200.0), 9.0, 9.0));
        assert_eq!(z[3], input.value(0, 400.0));
        // unconditional: one pool of every class's cells, whatever the class
        let pooled = LibraryInput::new(&[&small, &large], false);
        let all = [100.0, 200.0, 400.0, 1000.0, 1000.0];
        assert_eq!(pooled, LibraryInput::new(&[&all], true));
        assert_eq!(pooled.value(0, 300.0), pooled.value(1, 300.0));
        assert_eq!(pooled.value(7, 300.0), LibraryInput::new(&[&all], true).value(0, 300.0));
    }
}
