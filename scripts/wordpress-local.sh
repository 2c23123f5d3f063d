#!/usr/bin/env bash
# A real WordPress on loopback, for the integration suite (tests/integration/test_real_wordpress.py).
#
#   eval "$(scripts/wordpress-local.sh start)"     # prints the environment to use; logs go to stderr
#   scripts/wordpress-local.sh stop "$ADPILOT_REAL_WP_DIR"
#
# Debian's packages, no Apache: `wordpress`, `mariadb-server`, `php-cli`, `php-mysql` (installed with
# apt-get when missing — that needs root). Everything else lives in one scratch directory
# (ADPILOT_WP_DIR, default a new /tmp/adpilot-wp.XXXXXX): MariaDB on a unix socket there (no TCP),
# a copy of /usr/share/wordpress with its own wp-config.php, the adpilot SEO companion plugin in
# wp-content/mu-plugins, and PHP's built-in server on 127.0.0.1 (ADPILOT_WP_PORT, default a free
# port) with a router that serves files and sends everything else to index.php.
# WP_ENVIRONMENT_TYPE=local lets application passwords work over plain HTTP.
#
# Printed: ADPILOT_REAL_WP_URL, ADPILOT_REAL_WP_USER, WORDPRESS_APP_PASSWORD (an application
# password of that administrator) and ADPILOT_REAL_WP_DIR (for `stop`).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PLUGIN="$ROOT/integrations/wordpress/adpilot-seo/adpilot-seo.php"
WP_USER="${ADPILOT_REAL_WP_USER:-adpilot}"

log() { echo "wordpress-local: $*" >&2; }
die() { log "$*"; exit 1; }

need_packages() {
    local missing=()
    [ -f /usr/share/wordpress/wp-settings.php ] || missing+=(wordpress)
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
    command -v php >/dev/null 2>&1 || missing+=(php-cli)
    if command -v php >/dev/null 2>&1 && ! grep -qix mysqli <<<"$(php -m 2>/dev/null)"; then missing+=(php-mysql); fi
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (install them: apt-get install ${missing[*]})"
    log "installing ${missing[*]} (apt-get; a few minutes)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # php-mysql and mariadb-server are named explicitly: wordpress only recommends them.
    apt-get install -y -qq --no-install-recommends wordpress mariadb-server php-cli php-mysql >&2
    # The packages may start system services; this script needs none of them.
    if command -v service >/dev/null 2>&1; then
        service apache2 stop >/dev/null 2>&1 || true
        service mariadb stop >/dev/null 2>&1 || true
    fi
}

free_port() {
    php -r '$s = socket_create(AF_INET, SOCK_STREAM, SOL_TCP); socket_bind($s, "127.0.0.1", 0);
            socket_getsockname($s, $a, $p); echo $p;' 2>/dev/null \
        || python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds="$1" what="$2"; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

start() {
    need_packages
    local dir="${ADPILOT_WP_DIR:-$(mktemp -d /tmp/adpilot-wp.XXXXXX)}"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    local port="${ADPILOT_WP_PORT:-$(free_port)}"
    local url="http://127.0.0.1:$port"
    local sock="$dir/mysqld.sock"
    local started=$SECONDS

    # --- MariaDB on a unix socket in the scratch directory ---------------------------------
    local os_user; os_user="$(id -un)"
    mariadb-install-db --no-defaults --datadir="$dir/db" --user="$os_user" \
        --auth-root-authentication-method=socket --skip-test-db >"$dir/mysqld-install.log" 2>&1 \
        || { cat "$dir/mysqld-install.log" >&2; die "mariadb-install-db failed"; }
    local mariadbd; mariadbd="$(command -v mariadbd || echo /usr/sbin/mariadbd)"
    "$mariadbd" --no-defaults --datadir="$dir/db" --socket="$sock" --skip-networking \
        --pid-file="$dir/mysqld.pid" --log-error="$dir/mysqld.log" --user="$os_user" \
        --innodb-buffer-pool-size=32M --skip-log-bin >/dev/null 2>&1 &
    echo $! >"$dir/mysqld.launcher.pid"
    wait_for 60 "MariaDB" mariadb-admin --no-defaults --socket="$sock" -u "$os_user" ping \
        || { cat "$dir/mysqld.log" >&2; die "MariaDB did not start"; }
    local db_password; db_password="$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    mariadb --no-defaults --socket="$sock" -u "$os_user" <<SQL
CREATE DATABASE wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER 'wordpress'@'localhost' IDENTIFIED BY '$db_password';
GRANT ALL PRIVILEGES ON wordpress.* TO 'wordpress'@'localhost';
SQL

    # --- WordPress: Debian's files, our own wp-config.php, the companion plugin --------------
    # A copy, not symlinks: WordPress finds wp-config.php next to the resolved wp-load.php.
    cp -r /usr/share/wordpress "$dir/wp"
    rm -f "$dir/wp/wp-config.php"
    mkdir -p "$dir/wp/wp-content/mu-plugins" "$dir/wp/wp-content/uploads"
    cp "$PLUGIN" "$dir/wp/wp-content/mu-plugins/adpilot-seo.php"
    # Debian ships no theme (they are separate packages); a minimal one renders wp_head().
    mkdir -p "$dir/wp/wp-content/themes/minimal"
    printf '/*\nTheme Name: minimal\n*/\n' >"$dir/wp/wp-content/themes/minimal/style.css"
    cat >"$dir/wp/wp-content/themes/minimal/index.php" <<'PHP'
<!doctype html>
<html <?php language_attributes(); ?>><head><meta charset="utf-8"><?php wp_head(); ?></head>
<body><?php while (have_posts()) { the_post(); the_title('<h1>', '</h1>'); the_content(); } wp_footer(); ?></body>
</html>
PHP
    local salts; salts="$(for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT \
        LOGGED_IN_SALT NONCE_SALT; do
        printf "define('%s', '%s');\n" "$key" "$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
    done)"
    cat >"$dir/wp/wp-config.php" <<PHP
<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', '$db_password');
define('DB_HOST', 'localhost:$sock');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$salts
\$table_prefix = 'wp_';
define('WP_HOME', '$url');
define('WP_SITEURL', '$url');
define('WP_ENVIRONMENT_TYPE', 'local');   // application passwords over plain HTTP
define('WP_CONTENT_DIR', __DIR__ . '/wp-content');
define('WP_CONTENT_URL', '$url/wp-content');
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');
require_once ABSPATH . 'wp-settings.php';
PHP
    cat >"$dir/router.php" <<'PHP'
<?php
// PHP's built-in server: existing files as they are, everything else through WordPress.
$root = $_SERVER['DOCUMENT_ROOT'];
$path = rawurldecode(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) ?? '/');
if ($path !== '/' && is_file($root . $path)) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = $root . '/index.php';
$_SERVER['PHP_SELF'] = '/index.php';
chdir($root);
require $root . '/index.php';
PHP

    # --- install, pretty permalinks (for /wp-json/), an application password ----------------
    cat >"$dir/install.php" <<'PHP'
<?php
// php install.php WPDIR USER: install the site with USER as its administrator.
define('WP_INSTALLING', true);
$_SERVER['HTTP_HOST'] = parse_url(getenv('ADPILOT_WP_URL'), PHP_URL_HOST);
require $argv[1] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install('adpilot integration', $argv[2], $argv[2] . '@example.org', false, '', wp_generate_password(32));
update_option('permalink_structure', '/%postname%/');
switch_theme('minimal');
PHP
    cat >"$dir/app-password.php" <<'PHP'
<?php
// php app-password.php WPDIR USER: rewrite rules (REST included), then a new application password.
$_SERVER['HTTP_HOST'] = parse_url(getenv('ADPILOT_WP_URL'), PHP_URL_HOST);
require $argv[1] . '/wp-load.php';
flush_rewrite_rules(false);
$user = get_user_by('login', $argv[2]);
if (!$user) { fwrite(STDERR, "no user {$argv[2]}\n"); exit(1); }
$created = WP_Application_Passwords::create_new_application_password($user->ID, array('name' => 'adpilot integration'));
if (is_wp_error($created)) { fwrite(STDERR, $created->get_error_message() . "\n"); exit(1); }
echo WP_Application_Passwords::chunk_password($created[0]);
PHP
    ADPILOT_WP_URL="$url" php "$dir/install.php" "$dir/wp" "$WP_USER" >"$dir/install.log" 2>&1 \
        || { cat "$dir/install.log" >&2; die "wp_install failed"; }
    local password
    password="$(ADPILOT_WP_URL="$url" php "$dir/app-password.php" "$dir/wp" "$WP_USER" 2>"$dir/app-password.log")" \
        || { cat "$dir/app-password.log" >&2; die "creating the application password failed"; }

    # --- serve -----------------------------------------------------------------------------
    # Its own process group (setsid): `stop` ends the server and the workers it forked, and nothing else.
    PHP_CLI_SERVER_WORKERS="${PHP_CLI_SERVER_WORKERS:-4}" \
        setsid php -S "127.0.0.1:$port" -t "$dir/wp" "$dir/router.php" >"$dir/php.log" 2>&1 &
    echo $! >"$dir/php.pid"
    wait_for 30 "WordPress" curl -sf "$url/wp-json/wp/v2/types/post" \
        || { cat "$dir/php.log" >&2; die "WordPress does not answer on $url"; }
    curl -sf -u "$WP_USER:$password" "$url/wp-json/wp/v2/users/me" >/dev/null \
        || die "the application password is refused on $url/wp-json/wp/v2/users/me"
    log "WordPress $(php -r "include '$dir/wp/wp-includes/version.php'; echo \$wp_version;") on $url" \
        "(scratch dir $dir, ready in $((SECONDS - started)) s)"
    printf 'export ADPILOT_REAL_WP_URL=%q\n' "$url"
    printf 'export ADPILOT_REAL_WP_USER=%q\n' "$WP_USER"
    printf 'export WORDPRESS_APP_PASSWORD=%q\n' "$password"
    printf 'export ADPILOT_REAL_WP_DIR=%q\n' "$dir"
}

stop() {
    local dir="${1:-${ADPILOT_REAL_WP_DIR:-}}"
    [ -n "$dir" ] && [ -d "$dir" ] || die "usage: $0 stop DIR (the ADPILOT_REAL_WP_DIR that start printed)"
    if [ -f "$dir/php.pid" ]; then
        kill -- "-$(cat "$dir/php.pid")" 2>/dev/null || kill "$(cat "$dir/php.pid")" 2>/dev/null || true
    fi
    if [ -f "$dir/mysqld.pid" ]; then
        kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
    fi
    # mariadbd removes its pid file when it has shut down.
    wait_for 30 "MariaDB to stop" test ! -e "$dir/mysqld.pid" || log "MariaDB did not stop in time"
    if [ "${ADPILOT_WP_KEEP:-0}" != 1 ]; then
        rm -rf "$dir"
    fi
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) shift; stop "$@" ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
