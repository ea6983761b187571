//! Versioned indexes behind aliases: creating them, migrating an older version's
//! documents, refreshing, and deleting a throw-away prefix's indexes.

use super::*;

impl ElasticStore {
    /// Makes everything written so far searchable (after [`WriteVisibility::Eventual`] loads).
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let resp = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&self.aliases()))
            .send()
            .await
            .map_err(unavailable)?;
        json_of("refresh", resp).await.map(drop)
    }

    /// Deletes this store's indexes (every version behind its aliases): for tests and
    /// benchmarks that made a throw-away prefix.
    pub async fn delete_indexes(&self) -> Result<(), StoreError> {
        for alias in self.aliases() {
            for index in self.indexes_behind(alias).await? {
                let resp = self
                    .client
                    .indices()
                    .delete(IndicesDeleteParts::Index(&[&index]))
                    .send()
                    .await
                    .map_err(unavailable)?;
                json_of("delete index", resp).await?;
            }
        }
        Ok(())
    }

    /// Every alias this store owns.
    pub(super) fn aliases(&self) -> [&str; 5] {
        [
            &self.tx_alias,
            &self.job_alias,
            &self.page_alias,
            &self.event_alias,
            &self.rule_alias,
        ]
    }

    /// The indexes an alias points to (none when the alias does not exist).
    pub(super) async fn indexes_behind(&self, alias: &str) -> Result<Vec<String>, StoreError> {
        let resp = self
            .client
            .indices()
            .get_alias(IndicesGetAliasParts::Name(&[alias]))
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = json_of("get alias", resp).await?;
        Ok(body
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Creates `{alias}-v{version}` with `body` behind `alias`, copying the documents of an
    /// older version if the alias points to one (through the Painless `script`, if any, that
    /// brings an old document up to the new mapping).
    pub(super) async fn ensure_index(
        &self,
        alias: &str,
        version: u32,
        body: Value,
        script: Option<&str>,
    ) -> Result<(), StoreError> {
        let index = format!("{alias}-v{version}");
        let current = self.indexes_behind(alias).await?;
        if current.contains(&index) {
            return Ok(());
        }
        let mut body = body;
        if current.is_empty() {
            body["aliases"] = json!({ alias: {} });
        }
        let resp = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&index))
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        if resp.status_code() == StatusCode::BAD_REQUEST {
            // Another instance may have created it first: that is fine, anything else is not.
            let text = resp.text().await.unwrap_or_default();
            if !text.contains("resource_already_exists_exception") {
                return Err(backend(format!("create index {index}: {}", short(&text))));
            }
        } else {
            json_of("create index", resp).await?;
        }
        if current.is_empty() {
            return Ok(());
        }
        // A mapping change: copy the documents into the new version, then move the alias.
        let mut reindex = json!({
            "conflicts": "proceed",
            "source": { "index": current },
            "dest": { "index": index }
        });
        if let Some(source) = script {
            reindex["script"] = json!({ "lang": "painless", "source": source });
        }
        let resp = self
            .client
            .reindex()
            .wait_for_completion(true)
            .refresh(true)
            .body(reindex)
            .send()
            .await
            .map_err(unavailable)?;
        let done = json_of("reindex", resp).await?;
        if let Some(failures) = done["failures"].as_array().filter(|f| !f.is_empty()) {
            return Err(backend(format!(
                "reindex into {index}: {} failures, first: {}",
                failures.len(),
                short(&failures[0].to_string())
            )));
        }
        let mut actions: Vec<Value> = current
            .iter()
            .map(|old| json!({ "remove": { "index": old, "alias": alias } }))
            .collect();
        actions.push(json!({ "add": { "index": index, "alias": alias } }));
        let resp = self
            .client
            .indices()
            .update_aliases()
            .body(json!({ "actions": actions }))
            .send()
            .await
            .map_err(unavailable)?;
        json_of("move alias", resp).await.map(drop)
    }
}
