//! A generated User ID the portal says is taken is replaced by another generated one.

use anyhow::Result;

use crate::credentials;
use crate::error;
use crate::flow::Vars;
use crate::journal::Journal;
use crate::progress;
use crate::settings::NewLogin;

use super::lifecycle::{save_credentials, set_credential_vars};

/// Mends the step that typed a User ID the portal refused (taken): a generated one is replaced
/// by another generated one, and said so; a given one fails with the portal's words and the fix.
pub struct UserIdRetry {
    pub generated: bool,
    pub tin: String,
    pub tries: u32,
}

impl UserIdRetry {
    /// How many generated User IDs to try in all.
    const TRIES: u32 = 3;

    pub fn new(login: &NewLogin) -> Self {
        UserIdRetry {
            generated: login.user_id.is_none(),
            tin: login.tin.digits().to_string(),
            tries: 1,
        }
    }

    pub fn mend(
        &mut self,
        err: &anyhow::Error,
        vars: &mut Vars,
        journal: &mut Journal,
        creds: &mut credentials::Credentials,
    ) -> Result<bool> {
        let Some(said) = error::page_said(err) else {
            return Ok(false);
        };
        let about_user_id = said
            .field
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("User ID"));
        if !about_user_id {
            return Ok(false);
        }
        if !self.generated {
            return Err(error::portal_step(format!(
                "the portal refused the User ID \"{}\": \"{}\". Choose another with --user-id, \
                 or leave --user-id out to have one generated",
                creds.user_id, said.text
            )));
        }
        if self.tries >= Self::TRIES {
            return Ok(false);
        }
        let new_id = credentials::generate_user_id(&self.tin);
        self.tries += 1;
        let old = std::mem::replace(&mut creds.user_id, new_id);
        if credentials::check_password(&creds.password, Some(&creds.user_id)).is_err() {
            creds.password = credentials::generate_password(&creds.user_id);
        }
        progress::note(&format!(
            "the portal refused the generated User ID {old} (\"{}\"): trying the generated {}",
            said.text, creds.user_id
        ));
        save_credentials(journal, creds)?;
        set_credential_vars(vars, creds);
        Ok(true)
    }
}
