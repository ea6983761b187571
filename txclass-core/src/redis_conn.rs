//! One way to reach Redis for every shared part (limiter, queue, bus, breakers, leases): a
//! single server, or a Redis Cluster.
//!
//! A URL names which: `redis://host:port/db` is one server; `redis+cluster://h1:p1,h2:p2`
//! lists cluster nodes to start from (any of them; the client learns the rest of the
//! cluster and follows its slot moves). Every key the project writes carries a hash tag per
//! partner or per job, so each script touches one slot and the load spreads over the
//! masters. Pub/sub uses plain `PUBLISH`, which a cluster forwards to every node, so a
//! subscriber connects to the first node listed.

use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, RedisResult, Value};

const CLUSTER_SCHEME: &str = "redis+cluster://";

/// Where Redis is.
#[derive(Clone)]
pub(crate) enum Target {
    Single(redis::Client),
    Cluster {
        client: Box<ClusterClient>,
        /// The first node listed, for subscriptions.
        first: redis::Client,
    },
}

impl Target {
    /// Reads a URL. The error names what is wrong, never the URL (it may hold a password).
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let invalid = |e: redis::RedisError| format!("invalid redis url ({:?})", e.kind());
        let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) else {
            return redis::Client::open(url)
                .map(Target::Single)
                .map_err(invalid);
        };
        // Credentials, if any, come before the first host and hold for every node.
        let (auth, hosts) = match rest.rsplit_once('@') {
            Some((auth, hosts)) => (format!("{auth}@"), hosts),
            None => (String::new(), rest),
        };
        let nodes: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| format!("redis://{auth}{h}"))
            .collect();
        if nodes.is_empty() {
            return Err("invalid redis url (a cluster URL lists no node)".into());
        }
        let first = redis::Client::open(nodes[0].as_str()).map_err(invalid)?;
        let client = ClusterClient::builder(nodes)
            .retries(2)
            .build()
            .map_err(invalid)?;
        Ok(Target::Cluster {
            client: Box::new(client),
            first,
        })
    }

    /// A connection for short commands, shared by clones: connects on first use and again
    /// after a failure (one quick retry; callers decide what a failure means).
    pub(crate) fn shared(&self, response: Duration, connect: Duration) -> RedisResult<Conn> {
        match self {
            Target::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(response))
                    .set_connection_timeout(Some(connect))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                client
                    .get_connection_manager_lazy(config)
                    .map(Conn::Manager)
            }
            Target::Cluster { client, .. } => {
                let config = ClusterConfig::new()
                    .set_response_timeout(response)
                    .set_connection_timeout(connect);
                Ok(Conn::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }

    /// A connection of its own, for blocking reads: nobody else waits behind it, and its
    /// reply timeout covers the longest block.
    pub(crate) async fn dedicated(&self, longest_block: Duration) -> RedisResult<Conn> {
        let response = longest_block + Duration::from_secs(2);
        let connect = Duration::from_secs(1);
        match self {
            Target::Single(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(connect))
                    .set_response_timeout(Some(response));
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map(Conn::Multiplexed)
            }
            Target::Cluster { client, .. } => {
                let config = ClusterConfig::new()
                    .set_response_timeout(response)
                    .set_connection_timeout(connect);
                client
                    .get_async_connection_with_config(config)
                    .await
                    .map(Conn::Cluster)
            }
        }
    }

    /// Where to subscribe.
    pub(crate) fn pubsub_client(&self) -> redis::Client {
        match self {
            Target::Single(client) => client.clone(),
            Target::Cluster { first, .. } => first.clone(),
        }
    }
}

/// A connection to a server or a cluster; cheap to clone (clones share it).
#[derive(Clone)]
pub(crate) enum Conn {
    Manager(ConnectionManager),
    Multiplexed(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Manager(c) => c.req_packed_command(cmd),
            Conn::Multiplexed(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Manager(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Multiplexed(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Manager(c) => c.get_db(),
            Conn::Multiplexed(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}
