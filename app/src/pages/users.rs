//! `/users`: who may sign in, with what role and over which part of the estate, and their
//! live sessions. Admins add people (with a generated password shown once), change roles and
//! scopes, disable accounts and sign people out everywhere.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::Role;
use crate::api::users::{AddUser, ChangeUser, UserSummary, list_users};
use crate::components::action_outcome::ActionOutcome;
use crate::components::column_heads::ColumnHeads;
use crate::components::load_failed::LoadFailed;
use crate::components::time::Timestamp;

const SCOPE_HINT: &str = "Accounts, tags and name prefixes, comma-separated: 111111111111, team=payments, payments/*. Empty: everything.";

#[component]
pub fn UsersPage() -> impl IntoView {
    view! {
        <Title text="Users" />
        <div class="page-head">
            <h1>"Users"</h1>
        </div>
        <p class="muted">
            "Who may sign in, with which role, and over which part of the estate. A scoped person sees only the secrets their accounts, tags and name prefixes cover, and those secrets' events and findings."
        </p>
        <UsersAdmin />
    }
}

/// Adding people and changing them, with the list each change reloads.
#[island(lazy)]
fn UsersAdmin() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let change = ServerAction::<ChangeUser>::new();
    let users = Resource::new(
        move || (add.version().get(), change.version().get()),
        |_| list_users(),
    );
    view! {
        <section class="panel">
            <h2>"Add a user"</h2>
            <ActionForm action=add attr:class="filters" attr:data-testid="add-user">
                <label>
                    "Name"
                    <input type="text" name="name" required maxlength="64" autocomplete="off" />
                </label>
                <label>
                    "Role"
                    <RoleChoice name="role" chosen=Role::Viewer />
                </label>
                <label>
                    "Scope"
                    <input type="text" name="scope" placeholder="team=payments" title=SCOPE_HINT />
                </label>
                <button type="submit">"Add"</button>
            </ActionForm>
            <ActionOutcome
                value=add.value()
                done=|password: String| {
                    format!("Added. Their password, shown only this once: {password}")
                }
                testid="add-user-outcome"
            />
        </section>
        <ActionOutcome value=change.value() done=|said: String| said testid="user-outcome" />
        <Suspense fallback=|| view! { <p class="muted">"Loading the users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Ok(users) => view! { <Users users change /> }.into_any(),
                    Err(error) => view! { <LoadFailed what="users" error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RoleChoice(name: &'static str, chosen: Role) -> impl IntoView {
    view! {
        <select name=name>
            {Role::ALL
                .into_iter()
                .map(|role| {
                    view! {
                        <option value=role.as_str() selected=role == chosen>
                            {role.as_str()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

#[component]
fn Users(users: Vec<UserSummary>, change: ServerAction<ChangeUser>) -> impl IntoView {
    view! {
        <table class="data" data-testid="users">
            <ColumnHeads names=&["Name", "Role", "Scope", "Sessions", "Status"] />
            <tbody>
                {users.into_iter().map(|user| view! { <User user change /> }).collect_view()}
            </tbody>
        </table>
    }
}

/// A form that makes one change to one user.
#[component]
fn Change(
    change: ServerAction<ChangeUser>,
    name: String,
    what: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <ActionForm action=change attr:class="filters">
            <input type="hidden" name="name" value=name />
            <input type="hidden" name="change" value=what />
            {children()}
        </ActionForm>
    }
}

#[component]
fn User(user: UserSummary, change: ServerAction<ChangeUser>) -> impl IntoView {
    let name = user.name.clone();
    let scope = user
        .scope
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let scope_label = format!("Scope of {name}");
    let scope_field = scope.clone();
    let status = match user.disabled_at {
        Some(at) => view! { "disabled " <Timestamp at /> }.into_any(),
        None => "active".into_any(),
    };
    view! {
        <tr data-user=name.clone()>
            <td>
                {name.clone()}
                {user.single_sign_on.then(|| view! { <p class="muted small">"single sign-on"</p> })}
                <p class="muted small">"since " <Timestamp at=user.created_at /></p>
            </td>
            <td>
                <Change change name=name.clone() what="role">
                    <RoleChoice name="value" chosen=user.role />
                    <button type="submit" class="secondary">"Set"</button>
                </Change>
            </td>
            <td data-scope=scope>
                <Change change name=name.clone() what="scope">
                    <input
                        type="text"
                        name="value"
                        value=scope_field
                        placeholder="everything"
                        title=SCOPE_HINT
                        aria-label=scope_label
                    />
                    <button type="submit" class="secondary">"Set"</button>
                </Change>
            </td>
            <td>
                {user.live_sessions}
                " live"
                {user.last_seen_at.map(|at| view! { <p class="muted small">"last seen " <Timestamp at /></p> })}
                {(user.live_sessions > 0).then(|| {
                    view! {
                        <Change change name=name.clone() what="end-sessions">
                            <input type="hidden" name="value" value="" />
                            <button type="submit" class="secondary">"Sign out everywhere"</button>
                        </Change>
                    }
                })}
            </td>
            <td>
                {status}
                {user.disabled_at.is_none().then(|| {
                    view! {
                        <Change change name=name.clone() what="disable">
                            <input type="hidden" name="value" value="" />
                            <button type="submit" class="danger">"Disable"</button>
                        </Change>
                    }
                })}
            </td>
        </tr>
    }
}
