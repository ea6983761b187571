package txclass.searchengine;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one real OpenSearch node in this JVM, for txclass's tests.
 *
 * <p>The OpenSearch distribution cannot be downloaded here, but its jars are on Maven Central.
 * The distribution normally loads "modules" (netty4 for HTTP, analysis-common, ...) from its
 * modules/ folder; here they are passed as classpath plugins instead, exactly as the test
 * framework's MockNode does (without pulling the test framework and its randomized runner in).
 *
 * <p>Usage: {@code java -jar search-engine-launcher.jar [--port N] [--home DIR] [-Ekey=value ...]}
 * <br>Port: --port, else env TXCLASS_SEARCH_PORT, else 9200.
 * <br>Home (data + logs): --home, else env TXCLASS_SEARCH_HOME, else a new temp folder.
 * <br>Prints "OPENSEARCH READY http://127.0.0.1:PORT" once HTTP serves; stops on SIGTERM/SIGINT.
 */
public final class Launcher {

    /** Node subclass only to reach the protected constructor that accepts classpath plugins. */
    static final class ClasspathPluginNode extends Node {
        ClasspathPluginNode(Settings settings, List<Class<? extends Plugin>> plugins) {
            // configPath = null: no opensearch.yml is read, all settings come from `settings`.
            super(InternalSettingsPreparer.prepareEnvironment(settings, java.util.Map.of(), null, () -> "txclass-search"),
                plugins, false);
        }
    }

    public static void main(String[] args) throws Exception {
        String port = envOr("TXCLASS_SEARCH_PORT", "9200");
        String home = System.getenv("TXCLASS_SEARCH_HOME");
        Settings.Builder extra = Settings.builder();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--port") && i + 1 < args.length) {
                port = args[++i];
            } else if (a.equals("--home") && i + 1 < args.length) {
                home = args[++i];
            } else if (a.startsWith("-E") && a.contains("=")) {
                // Any other node setting, like the real `opensearch -Ekey=value`.
                String kv = a.substring(2);
                extra.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            } else {
                System.err.println("unknown argument: " + a);
                System.exit(2);
            }
        }
        Integer.parseInt(port); // one fixed port: OpenSearch would also accept a range like 9200-9300
        Path homeDir = home == null || home.isEmpty()
            ? Files.createTempDirectory("txclass-opensearch-")
            : Files.createDirectories(Path.of(home).toAbsolutePath());

        Settings settings = Settings.builder()
            .put("cluster.name", "txclass-test")
            .put("node.name", "txclass-search")
            .put("path.home", homeDir.toString())
            .put("path.data", homeDir.resolve("data").toString())
            .put("path.logs", homeDir.resolve("logs").toString())
            // One node that elects itself; no discovery of peers, no bootstrap checks.
            .put("discovery.type", "single-node")
            // HTTP on loopback only, on the requested port (no fallback to another port).
            .put("http.host", "127.0.0.1")
            .put("http.port", port)
            .put("http.type", "netty4")
            // Node-to-node transport, unused by clients, kept on loopback in a port range.
            .put("transport.host", "127.0.0.1")
            .put("transport.port", "9300-9399")
            .put("transport.type", "netty4")
            // Never go read-only / refuse shards because the disk is "too full".
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // Tests create and delete indices freely (ES's default too, made explicit).
            .put("action.auto_create_index", true)
            .put("action.destructive_requires_name", false)
            .put(extra.build())
            .build();

        // The distribution's modules that tests are likely to need, loaded from the classpath.
        List<Class<? extends Plugin>> plugins = List.of(
            Netty4Plugin.class,          // HTTP + transport
            CommonAnalysisPlugin.class,  // standard analyzers, tokenizers, token filters
            ReindexPlugin.class,         // _delete_by_query, _update_by_query, _reindex
            PainlessPlugin.class,        // painless scripts
            MapperExtrasPlugin.class);   // scaled_float, rank_feature, search_as_you_type, ...
        Node node = new ClasspathPluginNode(settings, plugins);

        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM / SIGINT run the shutdown hooks: close the node cleanly (flushes, releases the
        // data-dir lock), then stop log4j ourselves (its own hook is disabled in log4j2.properties).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                System.out.println("OPENSEARCH STOPPING");
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
                System.out.println("OPENSEARCH STOPPED");
            } catch (IOException | InterruptedException | RuntimeException e) {
                e.printStackTrace();
            } finally {
                Configurator.shutdown((LoggerContext) LogManager.getContext(false));
                stopped.countDown();
            }
        }, "txclass-search-shutdown"));

        try {
            start(node, homeDir);
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1); // runs the shutdown hook, which closes what was started
        }
        // OpenSearch's threads are daemon threads (its Bootstrap keeps a keep-alive thread for this):
        // block main until the shutdown hook has finished.
        stopped.await();
    }

    private static void start(Node node, Path homeDir) throws Exception {
        node.start(); // returns once HTTP is bound and the single node has elected itself

        // A single node can never host replicas, so default new indices to 0 replicas (green, not
        // yellow). OpenSearch reads this default from the cluster state only, not from node
        // settings, hence a persistent cluster setting. Indices/templates may still set their own.
        node.client().admin().cluster().prepareUpdateSettings()
            .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
            .get();
        InetSocketAddress bound = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().address();
        System.out.println("OPENSEARCH READY http://" + bound.getHostString() + ":" + bound.getPort()
            + " home=" + homeDir);
        System.out.flush();
    }

    private static String envOr(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }
}
