"""The plugin's own tests: test files written as a team would write them from the README, run by
pytest inside pytest (pytester), against the cvnotify binary ($CVNOTIFY_BIN or PATH) and the
official azure-storage-queue SDK."""

import textwrap

CONSUMER = textwrap.dedent(
    """
    import json
    from azure.storage.queue import QueueClient

    def consume(connection_string, queue, delete=True):
        '''What a team's consumer does: read every notification, act, delete it.'''
        client = QueueClient.from_connection_string(connection_string, queue)
        seen = []
        while True:
            batch = list(client.receive_messages(max_messages=32, visibility_timeout=30))
            if not batch:
                return seen
            for message in batch:
                seen.append(json.loads(message.content)["type"])
                if delete:
                    client.delete_message(message)
    """
)


def write(pytester, body):
    pytester.makepyfile(consumer=CONSUMER)
    pytester.makepyfile(test_team=textwrap.dedent(body))


def test_a_consumer_that_deletes_every_notification_passes(pytester):
    write(
        pytester,
        """
        from consumer import consume

        def test_consumer_reads_the_whole_lifecycle(cvnotify):
            cvnotify.lifecycle()
            seen = consume(cvnotify.connection_string, cvnotify.queue_name)
            assert sorted(seen) == ["ConnectionTest", "Export", "Training"]
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_consumer_that_forgets_to_delete_fails_with_the_finding(pytester):
    write(
        pytester,
        """
        from consumer import consume

        def test_consumer_forgets(cvnotify):
            cvnotify.configure()
            consume(cvnotify.connection_string, cvnotify.queue_name, delete=False)
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cvnotify: FAIL*", "*error notification-not-deleted*"])


def test_an_expected_finding_is_the_outcome_a_test_can_ask_for(pytester):
    write(
        pytester,
        """
        from consumer import consume

        def test_the_bug_is_caught(cvnotify):
            cvnotify.expect_findings("notification-not-deleted")
            cvnotify.configure()
            consume(cvnotify.connection_string, cvnotify.queue_name, delete=False)

        def test_an_expectation_that_is_not_met_fails(cvnotify):
            cvnotify.expect_findings("notification-not-deleted")
            cvnotify.configure()
            consume(cvnotify.connection_string, cvnotify.queue_name)
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "expected the findings ['notification-not-deleted'], got []" in result.stdout.str()


def test_raw_messages_and_an_unjudged_simulation(pytester):
    write(
        pytester,
        """
        import base64, json
        from azure.storage.queue import QueueClient

        def test_raw(cvnotify_simulation):
            sim = cvnotify_simulation
            sim.deliver('{"version":"1.0","type":"ConnectionTest","Content":{"projectId":"0f5a1c2e-3b4d-4e6f-8a9b-0c1d2e3f4a5b"}}', base64=True)
            sim.deliver("not a notification")
            client = QueueClient.from_connection_string(sim.connection_string, sim.queue_name)
            texts = sorted(m.content for m in client.receive_messages(max_messages=32))
            assert texts[1] == "not a notification"
            assert json.loads(base64.b64decode(texts[0]))["type"] == "ConnectionTest"
            # Not judged: the messages left on the queue fail nothing.
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_missing_binary_is_said_plainly(pytester):
    write(
        pytester,
        """
        def test_needs_it(cvnotify):
            pass
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--cvnotify-bin", "/nonexistent/cvnotify")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cvnotify is not found*"])
