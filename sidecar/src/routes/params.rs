//! [`PathArgs`]: path parameters, with a JSON 400 naming the parameter when one cannot be read.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// Path parameters of type `T` (a tuple in path order).
#[derive(Debug)]
pub struct PathArgs<T>(pub T);

impl<T, S> FromRequestParts<S> for PathArgs<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathArgs(value))
            .map_err(|rejection| {
                ApiError::bad_request(
                    "invalid_path",
                    format!(
                        "{}; path segments must be UTF-8, percent-encoded",
                        rejection.body_text()
                    ),
                )
                .with_field("path")
            })
    }
}
