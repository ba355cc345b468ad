from django.apps import AppConfig


class MechanismsConfig(AppConfig):
    name = "mechanisms"
    verbose_name = "Mechanisms"

    def ready(self) -> None:
        from mechanisms.footer import overdue_inspections_note
        from mechanisms.selectors import overdue_inspection_query
        from revops.hooks import register_footer_note

        # The executive scorecard says how many mechanisms are overdue for inspection, without
        # scorecard/ knowing that mechanisms exist.
        register_footer_note(
            "scorecard.week", overdue_inspections_note, query=overdue_inspection_query
        )
