import { Button, PageSection } from '@patternfly/react-core';
import { Link } from 'react-router-dom';
import { Empty } from '../components/common';

export default function NotFound() {
  return (
    <PageSection>
      <Empty title="404: That page does not exist" action={<Button component={(p: object) => <Link {...p} to="/repository" />}>Go to repositories</Button>}>
        The page you are looking for could not be found.
      </Empty>
    </PageSection>
  );
}
