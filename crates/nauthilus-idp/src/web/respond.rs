//! The one way a page handler answers with a page: render the template, or, when an operator's
//! template fails, log it and show the internal-error page instead (never a bare 500).

use axum::response::Response;
use http::StatusCode;
use serde::Serialize;

use super::error::{PageError, page_error};
use super::pages::{LangLink, Page, Pages};
use super::visitor::{Visitor, html_response};

impl Pages {
    /// `page` in the visitor's language with `data`, answered with `status` and the visitor's
    /// cookies; a rendering failure is logged under `guid` and shown as the internal-error page.
    pub fn respond(
        &self,
        visitor: &Visitor,
        page: Page,
        switch: &[LangLink],
        data: impl Serialize,
        status: StatusCode,
        guid: &str,
    ) -> Response {
        self.respond_with_cookies(
            visitor,
            page,
            switch,
            data,
            status,
            &visitor.set_cookies(self),
            guid,
        )
    }

    /// Like [`Pages::respond`], with the `Set-Cookie` values given (a page that sets more).
    #[allow(clippy::too_many_arguments)]
    pub fn respond_with_cookies(
        &self,
        visitor: &Visitor,
        page: Page,
        switch: &[LangLink],
        data: impl Serialize,
        status: StatusCode,
        cookies: &[String],
        guid: &str,
    ) -> Response {
        match self.render(page, visitor.lang, switch, data) {
            Ok(html) => html_response(status, html, cookies),
            Err(err) => {
                tracing::error!(guid, page = ?page, error = %err, "idp: rendering a page failed");
                page_error(self, visitor, PageError::Internal, guid)
            }
        }
    }
}
