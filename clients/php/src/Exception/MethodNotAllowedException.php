<?php

declare(strict_types=1);

namespace Orbit\Client\Exception;

/** 405 method_not_allowed: the path exists, the method does not. */
class MethodNotAllowedException extends OrbitException
{
}
