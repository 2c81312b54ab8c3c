//! Starts or joins the local cloud for tests and hands out SdkConfig with dummy credentials.
