//! The one place that builds an SdkConfig for a target, and classifies AWS errors.
