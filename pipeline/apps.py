from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Revenue pipeline"

    def ready(self) -> None:
        from pipeline.selectors import stale_data_note
        from revops.hooks import register_footer_note

        register_footer_note("scorecard.week", stale_data_note)
