"""The App.Sip_* dialect: `POST /` form-data with `service=App.Sip_<Module>.<Action>`."""
