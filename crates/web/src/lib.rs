//! Clusterwise web interface (being written).
