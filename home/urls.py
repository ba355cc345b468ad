from django.urls import path

from home import views

# No app_name: the page is reversed as plain "home", as the login redirect and templates expect.
urlpatterns = [
    path("", views.home, name="home"),
]
