# Sphinx configuration of the drbd-clvm-driver documentation.
# Built by "tox -e docs" with warnings as errors.

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, '_exts'))

extensions = [
    'openstackdocstheme',
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
    'drbd_clvm_sphinx',
]

# The sample configuration, generated from the code at every build
# (oslo_config.sphinxconfiggen), like "tox -e genconfig" writes the
# committed etc/drbd_clvm_driver.conf.sample.
config_generator_config_file = os.path.join(
    REPO, 'etc', 'oslo-config-generator', 'drbd_clvm_driver.conf')
sample_config_basename = '_generated/drbd_clvm_driver'

project = 'drbd-clvm-driver'
copyright = 'drbd-clvm-driver developers'
master_doc = 'index'
source_suffix = '.rst'
exclude_patterns = ['_build', '_generated']
pygments_style = 'native'
# Quotes and ellipses only: '--' stays two hyphens, as in command lines.
smartquotes_action = 'qe'
# A reference that resolves nowhere is a warning, and so fails the build.
nitpicky = True

html_theme = 'openstackdocs'
# No tracking: the theme's default sends page views to OpenStack's account.
html_theme_options = {'display_global_toc_section': True,
                      'analytics_tracking_code': ''}
openstackdocs_repo_name = 'openstack/drbd-clvm-driver'
openstackdocs_use_storyboard = False
openstackdocs_auto_name = False
openstackdocs_bug_project = 'drbd-clvm-driver'
openstackdocs_bug_tag = 'doc'
openstackdocs_pdf_link = False
