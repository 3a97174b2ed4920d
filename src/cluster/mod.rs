//! Clustering (stub, being written).
