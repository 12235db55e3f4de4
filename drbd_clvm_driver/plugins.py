"""Finding a plugin class by name in its stevedore namespace."""

from stevedore import driver as stevedore_driver


def plugin_class(namespace, name, not_found, kind, shipped):
    """The class registered as ``name`` in ``namespace``.

    :param not_found: the exception class raised when there is none.
    :param kind: what the plugin is, for the message ("lock manager").
    :param shipped: the names this project registers, for the message.
    """
    try:
        return stevedore_driver.DriverManager(namespace, name).driver
    except (RuntimeError, stevedore_driver.NoMatches) as error:
        quoted = ['"%s"' % each for each in shipped]
        listed = ' and '.join([', '.join(quoted[:-1]), quoted[-1]]
                              if len(quoted) > 1 else quoted)
        raise not_found('No %s %r in namespace %s (%s); the shipped ones are '
                        '%s' % (kind, name, namespace, error, listed))
