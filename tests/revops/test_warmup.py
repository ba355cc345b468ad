"""Every serving process loads what a page is assembled from before its first request."""

import logging

from revops import warmup


def test_the_warm_up_finds_every_template_it_names(caplog):
    with caplog.at_level(logging.ERROR, logger="revops.warmup"):
        warmup.process_warm()
    assert caplog.records == []  # a renamed template would be logged here, not at start-up
