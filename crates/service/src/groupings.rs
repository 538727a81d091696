//! Geography layers (districts, divisions, custom areas) and networks: groupings of schools that
//! are not the administrative cluster.

use crate::{Service, ServiceError, ServiceResult};
use domain::access::{User, UserRole};
use domain::cluster::Network;
use domain::geo::{Area, GeographyLayer, LayerKind, check_layer};
use domain::ids::{AuthorityId, LayerId, NetworkId, Urn};
use std::collections::HashSet;

fn require_officer(user: &User, action: &str) -> ServiceResult<()> {
    if user.role == UserRole::AuthorityOfficer {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "only an authority officer may {action}"
        )))
    }
}

impl Service {
    async fn check_on_register(
        &self,
        authority: AuthorityId,
        urns: impl IntoIterator<Item = Urn>,
    ) -> ServiceResult<()> {
        let known: HashSet<Urn> = self
            .store
            .all_schools(authority)
            .await?
            .into_iter()
            .map(|s| s.school.urn)
            .collect();
        let missing: Vec<String> = urns
            .into_iter()
            .filter(|u| !known.contains(u))
            .map(|u| u.to_string())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(format!(
                "these URNs are not on this authority's register: {}",
                missing.join(", ")
            )))
        }
    }

    /// Saves (or replaces, by name) a geography layer for the authority.
    pub async fn save_geography_layer(
        &self,
        authority: AuthorityId,
        kind: LayerKind,
        name: &str,
        areas: &[Area],
    ) -> ServiceResult<LayerId> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ServiceError::Invalid("a layer needs a name".into()));
        }
        check_layer(areas).map_err(ServiceError::Invalid)?;
        self.check_on_register(authority, areas.iter().flat_map(|a| a.members.iter().copied()))
            .await?;
        Ok(self.store.save_geography_layer(authority, kind, name, areas).await?)
    }

    /// Saves (or replaces, by name) a network for the authority.
    pub async fn save_network(
        &self,
        authority: AuthorityId,
        name: &str,
        purpose: &str,
        members: &[Urn],
    ) -> ServiceResult<NetworkId> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ServiceError::Invalid(
                "a network needs a name of 1 to 200 characters".into(),
            ));
        }
        self.check_on_register(authority, members.iter().copied()).await?;
        Ok(self
            .store
            .save_network(authority, name, purpose.trim(), members)
            .await?)
    }

    /// An officer's edit of a network from the web.
    pub async fn save_network_as(
        &self,
        user: &User,
        name: &str,
        purpose: &str,
        members: &[Urn],
    ) -> ServiceResult<NetworkId> {
        require_officer(user, "change networks")?;
        self.save_network(user.authority, name, purpose, members).await
    }

    pub async fn networks(&self, user: &User) -> ServiceResult<Vec<Network>> {
        Ok(self.store.networks(user.authority).await?)
    }

    pub async fn geography_layers(&self, user: &User) -> ServiceResult<Vec<GeographyLayer>> {
        Ok(self.store.geography_layers(user.authority).await?)
    }
}
