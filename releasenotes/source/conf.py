# Sphinx configuration of the drbd-clvm-driver release notes (reno).
# Built by "tox -e releasenotes" with warnings as errors.

extensions = [
    'openstackdocstheme',
    'reno.sphinxext',
]

project = 'drbd-clvm-driver Release Notes'
copyright = 'drbd-clvm-driver developers'
master_doc = 'index'
source_suffix = '.rst'
exclude_patterns = ['_build']
pygments_style = 'native'

html_theme = 'openstackdocs'
# No tracking: the theme's default sends page views to OpenStack's account.
html_theme_options = {'analytics_tracking_code': ''}
openstackdocs_repo_name = 'openstack/drbd-clvm-driver'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
openstackdocs_bug_project = 'drbd-clvm-driver'
openstackdocs_bug_tag = 'releasenotes'
openstackdocs_pdf_link = False
