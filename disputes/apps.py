from django.apps import AppConfig


class DisputesConfig(AppConfig):
    name = "disputes"
    verbose_name = "Disputes"

    def ready(self) -> None:
        from disputes.scorecard import dispute_counts_note, dispute_marks
        from disputes.selectors import dispute_counts_query
        from revops.hooks import register_footer_note
        from scorecard import trust

        # An open dispute is the strongest word on a number: its mark goes before
        # reconciliation's, without scorecard/ knowing that disputes exist.
        if dispute_marks not in trust.TRUST_SOURCES:
            trust.TRUST_SOURCES.insert(0, dispute_marks)
        register_footer_note("scorecard.week", dispute_counts_note, query=dispute_counts_query)
