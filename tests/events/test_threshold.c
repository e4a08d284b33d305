/* test_threshold.c - watches with hysteresis, and the parsing of levels,
 * mount options and control commands. */
#include "helpers.h"

#include <errno.h>

/* Types (as names) of everything @r has, one per line in a string. */
static char *types_of(struct evt_reader *r)
{
	char *all = read_all(r, 65536), *out = calloc(1, strlen(all) + 1);
	char buf[64];

	for (char *l = strtok(all, "\n"); l; l = strtok(NULL, "\n")) {
		assert_non_null(line_field(l, "type", buf, sizeof(buf)));
		strcat(out, buf);
		strcat(out, " ");
		assert_non_null(line_field(l, "watch", buf, sizeof(buf)));
		strcat(out, buf);
		strcat(out, "\n");
	}
	free(all);
	return out;
}

static struct evt_level lvl(const char *text)
{
	struct evt_level l;
	struct mixfs_err err = { 0 };

	if (evt_level_parse(text, &l, &err))
		fail_msg("level %s: %s", text, err.msg);
	return l;
}

static void falling_below_low_fires_once(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_level lo = lvl("10%"), ok = lvl("15%");
	struct evt_reader *r;
	char *t, buf[32];

	(void)state;
	assert_int_equal(evt_watch_add(ev, EVT_METRIC_SPACE, &lo, &ok, NULL, NULL), 0);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	evt_check_space(ev, 500, 1000);
	evt_check_space(ev, 100, 1000);	/* exactly 10 %: not below */
	t = types_of(r);
	assert_string_equal(t, "");
	free(t);
	evt_check_space(ev, 99, 1000);
	evt_check_space(ev, 50, 1000);
	evt_check_space(ev, 0, 1000);
	evt_check_space(ev, 120, 1000);	/* between the levels */
	evt_reader_close(r);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	{
		char *all = read_all(r, 65536);

		assert_int_equal(count_lines(all), 1);
		assert_string_equal(line_field(all, "type", buf, sizeof(buf)),
				    "space_low");
		assert_string_equal(line_field(all, "category", buf, sizeof(buf)),
				    "threshold");
		assert_string_equal(line_field(all, "free", buf, sizeof(buf)), "99");
		assert_string_equal(line_field(all, "total", buf, sizeof(buf)), "1000");
		assert_string_equal(line_field(all, "free_pct", buf, sizeof(buf)), "9.90");
		assert_string_equal(line_field(all, "low", buf, sizeof(buf)), "10%");
		assert_string_equal(line_field(all, "ok", buf, sizeof(buf)), "15%");
		free(all);
	}
	evt_reader_close(r);
	evt_close(ev);
}

static void bouncing_around_the_low_level_fires_nothing_more(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_level lo = lvl("10%"), ok = lvl("15%");
	struct evt_reader *r;
	char *t;

	(void)state;
	evt_watch_add(ev, EVT_METRIC_SPACE, &lo, &ok, NULL, NULL);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (int i = 0; i < 1000; i++)
		evt_check_space(ev, i % 2 ? 95 : 105, 1000);
	evt_check_space(ev, 150, 1000);	/* exactly 15 %: not above */
	t = types_of(r);
	assert_string_equal(t, "space_low 1\n");
	free(t);
	evt_check_space(ev, 151, 1000);
	for (int i = 0; i < 1000; i++)
		evt_check_space(ev, i % 2 ? 140 : 160, 1000);
	t = types_of(r);
	assert_string_equal(t, "space_ok 1\n");
	free(t);
	evt_check_space(ev, 90, 1000);	/* re-armed: fires again */
	t = types_of(r);
	assert_string_equal(t, "space_low 1\n");
	free(t);
	evt_reader_close(r);
	evt_close(ev);
}

static void several_watches_fire_in_turn_falling_and_rising(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_level warn = lvl("15%"), warn_ok = lvl("20%");
	struct evt_level crit = lvl("5%"), crit_ok = lvl("8%");
	struct evt_level ilo = lvl("100"), iok = lvl("200");
	unsigned w1, w2, w3;
	struct evt_reader *r;
	char *t, expect[256];

	(void)state;
	assert_int_equal(evt_watch_add(ev, EVT_METRIC_SPACE, &warn, &warn_ok, &w1, NULL), 0);
	assert_int_equal(evt_watch_add(ev, EVT_METRIC_SPACE, &crit, &crit_ok, &w2, NULL), 0);
	assert_int_equal(evt_watch_add(ev, EVT_METRIC_INODES, &ilo, &iok, &w3, NULL), 0);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	for (uint64_t f = 300; f > 0; f -= 10)	/* 30 % down to 1 % */
		evt_check_space(ev, f, 1000);
	evt_check_inodes(ev, 99, 1u << 20);
	for (uint64_t f = 10; f <= 300; f += 10)
		evt_check_space(ev, f, 1000);
	evt_check_inodes(ev, 201, 1u << 20);
	t = types_of(r);
	snprintf(expect, sizeof(expect),
		 "space_low %u\nspace_low %u\ninodes_low %u\n"
		 "space_ok %u\nspace_ok %u\ninodes_ok %u\n",
		 w1, w2, w3, w2, w1, w3);
	assert_string_equal(t, expect);
	free(t);
	/* A sudden drop past both fires both at once, warn first. */
	evt_check_space(ev, 1, 1000);
	t = types_of(r);
	snprintf(expect, sizeof(expect), "space_low %u\nspace_low %u\n", w1, w2);
	assert_string_equal(t, expect);
	free(t);
	evt_reader_close(r);
	evt_close(ev);
}

static void absolute_levels_compare_bytes_not_shares(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct evt_level lo = lvl("1G"), ok = lvl("2G");
	struct evt_reader *r;
	char *t;

	(void)state;
	evt_watch_add(ev, EVT_METRIC_SPACE, &lo, &ok, NULL, NULL);
	assert_int_equal(evt_reader_open(ev, 1, NULL, NULL, &r, NULL), 0);
	evt_check_space(ev, (1ull << 30), UINT64_MAX);
	evt_check_space(ev, (1ull << 30) - 1, UINT64_MAX);
	evt_check_space(ev, (2ull << 30), UINT64_MAX);
	evt_check_space(ev, (2ull << 30) + 1, UINT64_MAX);
	evt_check_space(ev, 5, 0);	/* total 0: ignored */
	t = types_of(r);
	assert_string_equal(t, "space_low 1\nspace_ok 1\n");
	free(t);
	evt_reader_close(r);
	evt_close(ev);
}

static void removed_watch_fires_no_more_and_list_shows_state(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct mixfs_err err = { 0 };
	char out[1024];
	int n;

	(void)state;
	n = evt_ctl(ev, "threshold space 5% 8%", out, sizeof(out), &err);
	assert_int_equal(n, (int)strlen("watch 1\n"));
	assert_string_equal(out, "watch 1\n");
	assert_true(evt_ctl(ev, "threshold inodes 1000", out, sizeof(out), &err) > 0);
	assert_string_equal(out, "watch 2\n");
	evt_check_space(ev, 1, 100);
	assert_true(evt_ctl(ev, "threshold list", out, sizeof(out), &err) > 0);
	assert_string_equal(out,
		"watch 1 space low 5% ok 8% fired\n"
		"watch 2 inodes low 1000 ok 1251 armed\n");
	assert_int_equal(evt_ctl(ev, "threshold remove 1", out, sizeof(out), &err), 0);
	assert_int_equal(evt_ctl(ev, "threshold remove 1", out, sizeof(out), &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "no threshold watch 1"));
	evt_check_space(ev, 100, 100);
	assert_int_equal(evt_last_seq(ev), 1);
	assert_true(evt_ctl(ev, "events status", out, sizeof(out), &err) > 0);
	assert_non_null(strstr(out, "events_last_seq: 1\n"));
	assert_int_equal(evt_ctl(ev, "status", out, sizeof(out), &err), -ENOENT);
	evt_close(ev);
}

static void expect_einval(int rc, const struct mixfs_err *err, const char *part)
{
	if (rc != -EINVAL)
		fail_msg("expected -EINVAL mentioning '%s', got %d", part, rc);
	if (!strstr(err->msg, part))
		fail_msg("message '%s' does not mention '%s'", err->msg, part);
}

static void bad_levels_fail_einval_naming_the_text(void **state)
{
	static const char *bad[][2] = {
		{ "", "''" }, { "%", "'%'" }, { "abc", "'abc'" },
		{ "101%", "above 100%" }, { "100.5%", "above 100%" },
		{ "12.345%", "two decimals" }, { "1.5G", "fraction" },
		{ "10%x", "after the '%'" }, { "10X", "unknown unit 'X'" },
		{ "10GB5", "after the unit" }, { "99999999999999999999", "'9999" },
		{ "20000000P", "too large" }, { "-5%", "'-5%'" },
	};
	struct evt_level l;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mixfs_err err = { 0 };

		expect_einval(evt_level_parse(bad[i][0], &l, &err), &err, bad[i][1]);
	}
	l = lvl("12.5%");
	assert_true(l.pct);
	assert_int_equal(l.val, 1250);
	l = lvl("0.01%");
	assert_int_equal(l.val, 1);
	l = lvl("500M");
	assert_false(l.pct);
	assert_int_equal(l.val, 500ull << 20);
	l = lvl("2GiB");
	assert_int_equal(l.val, 2ull << 30);
	l = lvl("1234");
	assert_int_equal(l.val, 1234);
}

static void bad_watches_and_options_fail_einval_precisely(void **state)
{
	static const char *bad[][2] = {
		{ "space_low=10%,space_ok=5%", "must be above the low level 10%" },
		{ "space_low=10%,space_ok=10%", "must be above" },
		{ "space_low=10%,space_ok=1G", "mix a percentage and an amount" },
		{ "space_ok=10%", "no space_low before it" },
		{ "inodes_low=5,space_ok=9%", "no space_low before it" },
		{ "space_low=0%", "never fires" },
		{ "space_low=97%", "needs an explicit space_ok" },
		{ "space_low", "needs a level" },
		{ "space_low=ten", "'ten'" },
		{ "errors=panic", "errors='panic' is not one of" },
		{ "events_keep=0", "events_keep='0' must be a whole number" },
		{ "events_ring=8", "events_ring='8'" },
		{ "colour=blue", "unknown events option 'colour'" },
	};
	struct evt_opts o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mixfs_err err = { 0 };

		evt_opts_init(&o);
		expect_einval(evt_opts_parse(&o, bad[i][0], &err), &err, bad[i][1]);
	}
}

static void mount_options_install_paired_watches(void **state)
{
	struct evt *ev = open_evt(64, 0, NULL);
	struct mixfs_err err = { 0 };
	struct evt_watch w[8];
	struct evt_opts o;
	char a[16], b[16];

	(void)state;
	evt_opts_init(&o);
	assert_int_equal(evt_opts_parse(&o,
		"space_low=15%,space_ok=20%,space_low=5%,inodes_low=1000,"
		"space_ok=8%,errors=unmount,events_keep=500,events_ring=64,"
		"events_socket=/run/x.sock", &err), 0);
	assert_int_equal(evt_opts_parse_one(&o, "ro", NULL, &err), 0);
	assert_int_equal(o.errors, EVT_ERRORS_UNMOUNT);
	assert_int_equal(o.keep, 500);
	assert_int_equal(o.ring, 64);
	assert_string_equal(o.socket, "/run/x.sock");
	assert_int_equal(evt_opts_apply(&o, ev, &err), 0);
	assert_int_equal(evt_watch_list(ev, w, 8), 3);
	evt_level_format(&w[1].low, a, sizeof(a));
	evt_level_format(&w[1].ok, b, sizeof(b));
	assert_string_equal(a, "5%");
	assert_string_equal(b, "8%");
	assert_int_equal(w[2].metric, EVT_METRIC_INODES);
	assert_int_equal(w[2].ok.val, 1251);	/* default: low + low/4 + 1 */
	evt_close(ev);
}

static void bad_control_commands_fail_einval_precisely(void **state)
{
	static const char *bad[][2] = {
		{ "threshold", "unknown threshold command ''" },
		{ "threshold disk 5%", "unknown threshold command 'disk'" },
		{ "threshold space", "usage: threshold space LOW [OK]" },
		{ "threshold space 5% 8% 9%", "usage" },
		{ "threshold space 8% 5%", "must be above the low level 8%" },
		{ "threshold space 5%% 8%", "'5%%'" },
		{ "threshold remove", "usage: threshold remove ID" },
		{ "threshold remove x", "usage: threshold remove ID" },
		{ "events", "usage: events status" },
	};
	struct evt *ev = open_evt(64, 0, NULL);
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mixfs_err err = { 0 };

		expect_einval(evt_ctl(ev, bad[i][0], out, sizeof(out), &err),
			      &err, bad[i][1]);
	}
	for (int i = 0; i < EVT_WATCH_MAX; i++)
		assert_true(evt_ctl(ev, "threshold space 5% 8%", out, sizeof(out),
				    NULL) > 0);
	{
		struct mixfs_err err = { 0 };

		expect_einval(evt_ctl(ev, "threshold space 5% 8%", out,
				      sizeof(out), &err), &err, "the most allowed");
	}
	evt_close(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(falling_below_low_fires_once),
		cmocka_unit_test(bouncing_around_the_low_level_fires_nothing_more),
		cmocka_unit_test(several_watches_fire_in_turn_falling_and_rising),
		cmocka_unit_test(absolute_levels_compare_bytes_not_shares),
		cmocka_unit_test(removed_watch_fires_no_more_and_list_shows_state),
		cmocka_unit_test(bad_levels_fail_einval_naming_the_text),
		cmocka_unit_test(bad_watches_and_options_fail_einval_precisely),
		cmocka_unit_test(mount_options_install_paired_watches),
		cmocka_unit_test(bad_control_commands_fail_einval_precisely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
