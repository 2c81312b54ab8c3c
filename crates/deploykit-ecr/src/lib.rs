//! ECR repository ensure, authorization tokens held as secrets, and image push through bollard.
