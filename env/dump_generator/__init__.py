"""The project's own dumps, for the runner, the tests and the benchmarks: the sample in
every published format (`sample`), a dump's next quarter (`revision`), and a dump as it
stood at an earlier date (`cut`)."""

# The generated sample's site: the default of every command that names one.
SAMPLE_SITE = "sample.stackexchange.com"
