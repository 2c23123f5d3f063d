<?php
/**
 * Plugin Name:       adpilot SEO fields
 * Description:       Lets adpilot write a page's meta description and structured data (JSON-LD) over the REST API, and prints them in the page head. Registers Yoast SEO's and Rank Math's description key for the REST API when that plugin is active.
 * Version:           1.0.0
 * Requires at least: 5.5
 * Requires PHP:      7.4
 * Author:            adpilot
 * License:           MIT
 *
 * Works as a regular plugin (wp-content/plugins/adpilot-seo/adpilot-seo.php, then activate it)
 * and as a must-use plugin (copy this one file into wp-content/mu-plugins/).
 *
 * WordPress accepts only meta keys registered for the REST API: it drops any other key without
 * an error (200, "meta": []). This plugin registers, for posts and pages:
 *
 *   adpilot_meta_description  the meta description   (wordpress.seo_fields: adpilot)
 *   adpilot_json_ld           structured data, JSON  (wordpress.seo_fields: adpilot)
 *   _yoast_wpseo_metadesc     when Yoast SEO is active (wordpress.seo_fields: yoast)
 *   rank_math_description     when Rank Math is active (wordpress.seo_fields: rankmath)
 *
 * Only a user who may edit the post may write them (auth_callback). adpilot reads every write
 * back, so a key this plugin does not register shows up in adpilot as a failed change.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

const ADPILOT_SEO_DESCRIPTION = 'adpilot_meta_description';
const ADPILOT_SEO_JSON_LD     = 'adpilot_json_ld';

/** The post types whose SEO fields adpilot manages (filter: adpilot_seo_post_types). */
function adpilot_seo_post_types() {
	return (array) apply_filters( 'adpilot_seo_post_types', array( 'post', 'page' ) );
}

/** {meta key: description} to register (filter: adpilot_seo_meta_keys). */
function adpilot_seo_meta_keys() {
	$keys = array(
		ADPILOT_SEO_DESCRIPTION => 'Meta description (adpilot), printed as <meta name="description">.',
		ADPILOT_SEO_JSON_LD     => 'Structured data as JSON-LD text (adpilot), printed in the page head.',
	);
	if ( defined( 'WPSEO_VERSION' ) ) {
		$keys['_yoast_wpseo_metadesc'] = 'Yoast SEO meta description.';
	}
	if ( defined( 'RANK_MATH_VERSION' ) || class_exists( 'RankMath' ) ) {
		$keys['rank_math_description'] = 'Rank Math meta description.';
	}
	return (array) apply_filters( 'adpilot_seo_meta_keys', $keys );
}

/** Writable by whoever may edit that post (the application password's user). */
function adpilot_seo_can_edit( $allowed, $meta_key, $object_id ) {
	return current_user_can( 'edit_post', (int) $object_id );
}

/** A description is plain text: tags removed, surrounding space trimmed. */
function adpilot_seo_sanitize_text( $value ) {
	return trim( wp_strip_all_tags( (string) $value ) );
}

/** JSON-LD must be a JSON object or array; anything else is stored as empty (and adpilot's read-back reports it). */
function adpilot_seo_sanitize_json( $value ) {
	$value = trim( (string) $value );
	if ( '' === $value ) {
		return '';
	}
	$data = json_decode( $value );
	return ( is_object( $data ) || is_array( $data ) ) ? $value : '';
}

function adpilot_seo_register() {
	foreach ( adpilot_seo_post_types() as $post_type ) {
		foreach ( adpilot_seo_meta_keys() as $key => $description ) {
			register_post_meta(
				$post_type,
				$key,
				array(
					'type'              => 'string',
					'description'       => $description,
					'single'            => true,
					'default'           => '',
					'show_in_rest'      => true,
					'sanitize_callback' => ADPILOT_SEO_JSON_LD === $key ? 'adpilot_seo_sanitize_json' : 'adpilot_seo_sanitize_text',
					'auth_callback'     => 'adpilot_seo_can_edit',
				)
			);
		}
	}
}
// After plugins_loaded, so that Yoast SEO and Rank Math have defined their constants.
add_action( 'init', 'adpilot_seo_register', 20 );

/** Whether another SEO plugin prints the description tag already. */
function adpilot_seo_other_plugin_prints() {
	return defined( 'WPSEO_VERSION' ) || defined( 'RANK_MATH_VERSION' ) || class_exists( 'RankMath' );
}

function adpilot_seo_head() {
	if ( ! is_singular( adpilot_seo_post_types() ) ) {
		return;
	}
	$post_id     = get_queried_object_id();
	$description = (string) get_post_meta( $post_id, ADPILOT_SEO_DESCRIPTION, true );
	if ( '' !== $description && ! adpilot_seo_other_plugin_prints() ) {
		printf( "<meta name=\"description\" content=\"%s\" />\n", esc_attr( $description ) );
	}
	$json = (string) get_post_meta( $post_id, ADPILOT_SEO_JSON_LD, true );
	if ( '' !== $json ) {
		$data = json_decode( $json );
		if ( is_object( $data ) || is_array( $data ) ) {
			// Re-encoded, with <, >, & as \u escapes: nothing in the data can end the block.
			$flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_HEX_TAG | JSON_HEX_AMP;
			echo '<script type="application/ld+json">' . wp_json_encode( $data, $flags ) . "</script>\n";
		}
	}
}
add_action( 'wp_head', 'adpilot_seo_head', 1 );
