//! The training data as the networks see it: CSR counts, per-cell scale factors and class codes.
//!
//! Cells stay sparse. A minibatch is `batch_size` rows densified into a reused buffer and scaled to the library
//! size of the model (20,000), exactly the paper's normalisation, one batch at a time. Rows are visited in
//! shuffled epochs (every cell once per epoch, as the reference's shuffled input pipeline does); the order of
//! epoch `e` comes from its own generator seeded by `(seed, e)`, so a resumed run needs only the epoch and the
//! position in it.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::CsrMatrix;
use crate::engine::counts::binomial;

/// Cells for training or validation.
#[derive(Debug, Clone)]
pub struct CellSet {
    /// Raw counts, `(n_cells, n_genes)`.
    pub counts: CsrMatrix,
    /// Factor that brings each cell to the model's library size: `library_size / total counts`.
    pub scale: Vec<f32>,
    /// Class code of every cell (all 0 without labels).
    pub labels: Vec<u32>,
}

impl CellSet {
    /// Builds the set, scaling every cell to `library_size`. Cells with no counts get scale 0 (they cannot be
    /// normalised; preprocessing removes them).
    pub fn new(counts: CsrMatrix, labels: Vec<u32>, library_size: f32) -> Self {
        let scale =
            counts.row_sums().iter().map(|&s| if s > 0.0 { (library_size as f64 / s) as f32 } else { 0.0 }).collect();
        CellSet { counts, scale, labels }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.counts.n_rows()
    }

    /// Whether there are no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The library sizes (total counts) of the cells of every class, `n_classes` pools (at least one); a label
    /// beyond them goes to the last pool.
    pub fn library_sizes_by_class(&self, n_classes: usize) -> Vec<Vec<f64>> {
        let mut pools = vec![Vec::new(); n_classes.max(1)];
        let last = pools.len() - 1;
        for (&label, size) in self.labels.iter().zip(self.counts.row_sums()) {
            pools[(label as usize).min(last)].push(size);
        }
        pools
    }

    /// The mean of every class's cells as the critic sees them, `f(normalised value)` per gene, as `n_classes`
    /// (at least one) rows of `n_genes`; a label beyond them counts towards the last class. Computed from the
    /// sparse rows: `f(0) = 0` for both inputs the critic takes (the values or their `ln(1 + x)`).
    pub fn class_means(&self, n_classes: usize, f: impl Fn(f32) -> f32) -> Vec<f32> {
        let (classes, g) = (n_classes.max(1), self.counts.n_cols());
        let mut sums = vec![0f64; classes * g];
        let mut sizes = vec![0usize; classes];
        for i in 0..self.len() {
            let class = (self.labels[i] as usize).min(classes - 1);
            sizes[class] += 1;
            let (cols, values) = self.counts.row(i);
            for (&j, &v) in cols.iter().zip(values) {
                sums[class * g + j as usize] += f(v * self.scale[i]) as f64;
            }
        }
        sums.chunks(g).zip(&sizes).flat_map(|(row, &n)| row.iter().map(move |s| (s / n.max(1) as f64) as f32)).collect()
    }

    /// Densifies and normalises `rows` into `out` (`rows.len() x n_genes`) and writes their labels.
    pub fn fill_batch(&self, rows: &[usize], out: &mut [f32], labels: &mut Vec<u32>) {
        self.fill_scaled(rows, |i| self.scale[i], out, labels);
    }

    /// As [`CellSet::fill_batch`], with the raw counts, not normalised.
    pub fn fill_batch_counts(&self, rows: &[usize], out: &mut [f32], labels: &mut Vec<u32>) {
        self.fill_scaled(rows, |_| 1.0, out, labels);
    }

    /// Densifies `rows` into `out`, each row times `scale(row)`, and writes their labels.
    fn fill_scaled(&self, rows: &[usize], scale: impl Fn(usize) -> f32, out: &mut [f32], labels: &mut Vec<u32>) {
        let scale: Vec<f32> = rows.iter().map(|&i| scale(i)).collect();
        self.counts.densify_rows(rows, &scale, out);
        labels.clear();
        labels.extend(rows.iter().map(|&i| self.labels[i]));
    }

    /// As [`CellSet::fill_batch`], with each count kept with probability `keep` (binomial thinning; draws from
    /// `(seed, batch row, gene)`; values are rounded to whole counts first). Each cell is then normalised as
    /// generated cells of the same kind are: by its kept total when `by_kept_total` (drawn counts), else by its
    /// expected kept total, `keep` times its library size (rounded counts).
    pub fn fill_batch_thinned(
        &self,
        rows: &[usize],
        keep: f32,
        seed: u64,
        by_kept_total: bool,
        out: &mut [f32],
        labels: &mut Vec<u32>,
    ) {
        let g = self.counts.n_cols();
        for (i, (&row, cell)) in rows.iter().zip(out.chunks_mut(g)).enumerate() {
            cell.fill(0.0);
            let (genes, counts) = self.counts.row(row);
            let (mut total, mut kept_total) = (0.0, 0.0);
            for (&j, &count) in genes.iter().zip(counts) {
                let kept = binomial((count as f64).round(), keep as f64, seed, (i * g + j as usize) as u64);
                cell[j as usize] = kept as f32;
                total += count as f64;
                kept_total += kept;
            }
            // `scale` brings the cell's total to the model's library size
            let library_size = self.scale[row] as f64 * total;
            let divisor = if by_kept_total { kept_total } else { keep as f64 * total };
            let scale = if divisor > 0.0 { (library_size / divisor) as f32 } else { 0.0 };
            cell.iter_mut().for_each(|v| *v *= scale);
        }
        labels.clear();
        labels.extend(rows.iter().map(|&i| self.labels[i]));
    }
}

/// Shuffled epochs over `n` cells, resumable from `(epoch, position)`.
#[derive(Debug, Clone)]
pub struct EpochSampler {
    n: usize,
    seed: u64,
    epoch: u64,
    position: usize,
    order: Vec<usize>,
}

impl EpochSampler {
    /// A sampler at the start of epoch `epoch`, position `position`.
    pub fn new(n: usize, seed: u64, epoch: u64, position: usize) -> Self {
        let mut sampler = EpochSampler { n, seed, epoch, position, order: Vec::new() };
        sampler.shuffle();
        sampler
    }

    fn shuffle(&mut self) {
        self.order = (0..self.n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5eed_0000_0000_0000 ^ self.epoch);
        self.order.shuffle(&mut rng);
    }

    /// The next `batch_size` rows (crossing into the next epoch when this one runs out).
    pub fn next_batch(&mut self, batch_size: usize, rows: &mut Vec<usize>) {
        rows.clear();
        while rows.len() < batch_size {
            if self.position == self.n {
                self.epoch += 1;
                self.position = 0;
                self.shuffle();
            }
            let take = (batch_size - rows.len()).min(self.n - self.position);
            rows.extend_from_slice(&self.order[self.position..self.position + take]);
            self.position += take;
        }
    }

    /// `(epoch, position)`, to resume from.
    pub fn position(&self) -> (u64, usize) {
        (self.epoch, self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Class means of the normalised cells as the critic sees them; a label beyond the classes counts towards the
    /// last one, and a class without cells has a zero mean.
    #[test]
    fn class_means_of_normalised_cells() {
        // library size 10: cell 0 (class 0) is [5, 5, 0], cell 1 (class 1) [10, 0, 0], cell 2 (label 7) [0, 2, 8]
        let counts = CsrMatrix::from_dense(&[1.0, 1.0, 0.0, 3.0, 0.0, 0.0, 0.0, 1.0, 4.0], 3);
        let cells = CellSet::new(counts, vec![0, 1, 7], 10.0);
        assert_eq!(cells.class_means(2, |x| x), vec![5.0, 5.0, 0.0, 5.0, 1.0, 4.0]);
        let logged = cells.class_means(3, f32::ln_1p);
        assert_eq!(&logged[..3], &[6f32.ln(), 6f32.ln(), 0.0]);
        assert_eq!(&logged[6..], &[0.0, 3f32.ln(), 9f32.ln()]);
        let four = cells.class_means(4, |x| x);
        assert_eq!((&four[6..9], &four[9..]), (&[0.0, 0.0, 0.0][..], &[0.0, 2.0, 8.0][..]));
    }

    /// Thinned cells keep about the fraction asked of their counts, never more than they had, and are normalised
    /// by what they kept (drawn counts) or by what they were expected to keep (rounded counts); a new seed draws
    /// other counts, the same seed the same.
    #[test]
    fn thinned_batches_keep_a_fraction_of_the_counts() {
        let dense: Vec<f32> = (0..4 * 50).map(|i| ((i * 7) % 11) as f32).collect();
        let cells = CellSet::new(CsrMatrix::from_dense(&dense, 50), vec![0, 1, 0, 1], 100.0);
        let (rows, mut out, mut labels) = ([3, 1, 0], vec![0f32; 150], Vec::new());
        let mut kept_fraction = 0.0;
        for seed in 0..200 {
            cells.fill_batch_thinned(&rows, 0.25, seed, true, &mut out, &mut labels);
            assert_eq!(labels, vec![1, 1, 0]);
            let mut expected = vec![0f32; 150];
            cells.fill_batch_thinned(&rows, 0.25, seed, false, &mut expected, &mut labels);
            for ((cell, by_expected), &row) in out.chunks(50).zip(expected.chunks(50)).zip(&rows) {
                assert!((cell.iter().sum::<f32>() - 100.0).abs() < 1e-3);
                let original = &dense[row * 50..(row + 1) * 50];
                // values are kept counts times 100 / (kept total): the smallest is one count
                let unit = cell.iter().copied().filter(|v| *v > 0.0).fold(f32::MAX, f32::min);
                let kept: Vec<f32> = cell.iter().map(|v| (v / unit).round()).collect();
                assert!(kept.iter().zip(original).all(|(k, c)| k <= c), "{kept:?} from {original:?}");
                kept_fraction += kept.iter().sum::<f32>() / original.iter().sum::<f32>() / 600.0;
                // by the expected total: one count is 100 / (0.25 x the cell's total)
                let count_unit = 100.0 / (0.25 * original.iter().sum::<f32>());
                assert!(by_expected.iter().zip(&kept).all(|(v, k)| (v - k * count_unit).abs() < 1e-3));
            }
        }
        assert!((kept_fraction - 0.25).abs() < 0.01, "kept {kept_fraction}");
        let mut again = vec![0f32; 150];
        cells.fill_batch_thinned(&rows, 0.25, 199, true, &mut again, &mut labels);
        assert_eq!(again, out);
        cells.fill_batch_thinned(&rows, 0.25, 5, true, &mut again, &mut labels);
        assert_ne!(again, out);
    }

    #[test]
    fn epochs_visit_every_cell_once_and_resume_exactly() {
        let mut sampler = EpochSampler::new(10, 3, 0, 0);
        let mut rows = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..5 {
            sampler.next_batch(2, &mut rows);
            seen.extend_from_slice(&rows);
        }
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        sampler.next_batch(3, &mut rows);
        let (epoch, position) = sampler.position();
        let mut resumed = EpochSampler::new(10, 3, epoch, position);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        sampler.next_batch(7, &mut a);
        resumed.next_batch(7, &mut b);
        assert_eq!(a, b);
    }
}
