//! PCA (stub, being written).
